"""One-shot echo server on asyncio, in the style of the well-known asyncio streams tutorial.

Each connection: read at most 100 bytes once, write them back, drain, close.
This is the server behind the churn comparison (one exchange per connection).
Binds 127.0.0.1 with a listen backlog of 4096, sets TCP_NODELAY on accepted
sockets, prints nothing per connection and exits cleanly on SIGTERM.

Usage: python3 asyncio_oneshot.py [--port] PORT
"""

import asyncio
import sys

from asyncio_echo import parse_port, serve, set_nodelay

TUTORIAL_READ_LIMIT = 100


async def echo_once(reader, writer):
    """Reads up to 100 bytes, echoes them and closes, as the tutorial does."""
    set_nodelay(writer)
    try:
        data = await reader.read(TUTORIAL_READ_LIMIT)
        writer.write(data)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    except ConnectionError:
        writer.close()


if __name__ == "__main__":
    asyncio.run(serve(parse_port(sys.argv), echo_once))
