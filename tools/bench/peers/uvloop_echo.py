"""The continuous asyncio echo server (asyncio_echo.py) running on uvloop's event loop.

Same handler, same socket options; only the loop differs, so the comparison
isolates the loop implementation. Needs uvloop (run.sh installs it in
tools/bench/.venv).

Usage: .venv/bin/python uvloop_echo.py [--port] PORT
"""

import sys

try:
    import uvloop
except ImportError:
    sys.exit("uvloop_echo: uvloop is not installed; run tools/bench/run.sh (it creates "
             "tools/bench/.venv with uvloop) or `pip install uvloop`")

from asyncio_echo import parse_port, serve

if __name__ == "__main__":
    uvloop.run(serve(parse_port(sys.argv)))
