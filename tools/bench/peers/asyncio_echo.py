"""Continuous echo server on Python asyncio streams: the server a Python user would write.

Each connection reads whatever arrives, writes it back and drains, until the
peer closes. Binds 127.0.0.1 with a listen backlog of 4096, sets TCP_NODELAY
on accepted sockets, prints nothing per message and exits cleanly on SIGTERM.

Usage: python3 asyncio_echo.py [--port] PORT
uvloop_echo.py reuses serve() with uvloop's event loop.
"""

import asyncio
import signal
import socket
import sys

LISTEN_BACKLOG = 4096
READ_CHUNK = 65536


def parse_port(argv):
    """Returns the port from `[--port] PORT`, or exits with a usage message."""
    args = argv[1:]
    if len(args) == 2 and args[0] == "--port":
        args = args[1:]
    if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= 65535:
        sys.exit(f"usage: {argv[0]} [--port] PORT  (PORT is 1..65535)")
    return int(args[0])


def set_nodelay(writer):
    """Disables Nagle on the accepted socket so small echoes leave at once."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def echo_until_eof(reader, writer):
    """Echoes everything the peer sends until it closes its side."""
    set_nodelay(writer)
    try:
        while True:
            data = await reader.read(READ_CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(port, handler=echo_until_eof):
    """Serves `handler` on 127.0.0.1:port until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(
        handler, "127.0.0.1", port, backlog=LISTEN_BACKLOG, reuse_address=True
    )
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(parse_port(sys.argv)))
