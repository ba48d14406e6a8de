"""The same bare 301 as `bare_app.py`, on the data plane's own HTTP server (`kit/http1.py`):
what that server gives without routing or hits. N forked workers share one socket.

    python bench/redirect/bare_http1.py PORT WORKERS
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import uvloop

from stellwerk.kit.http1 import Http1Server
from stellwerk.redirect.dataplane import bind_socket

TARGET = b"https://bench-new.example"


def redirect(
    method: bytes, path: bytes, query: bytes, headers: dict[bytes, bytes], peer: str
) -> tuple[int, bytes, bytes]:
    target = TARGET + path + b"?" + query if query else TARGET + path
    return 301, b"location: " + target + b"\r\n", b""


async def serve(sock: object) -> None:
    server = Http1Server(redirect)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await server.listen(sock)  # type: ignore[arg-type]
    await stop.wait()
    await server.shutdown(1.0)


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    sock = bind_socket("127.0.0.1", port)
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            uvloop.run(serve(sock))
            os._exit(0)
        children.append(pid)

    def stop(signum: int, frame: object) -> None:
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        os.waitpid(child, 0)


if __name__ == "__main__":
    main()
