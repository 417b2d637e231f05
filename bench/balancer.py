"""A TCP round-robin balancer on loopback, standing in for the load balancer in front of
several web servers (the soak's two gunicorns).

    .venv/bin/python bench/balancer.py --listen PORT --backend PORT [--backend PORT …]

Each client connection goes to the next backend in turn and stays with it (HTTP keep-alive);
a backend that refuses the connection is skipped and left out for DOWN_SECONDS, as a load
balancer's passive health check would, so a web server that died costs the requests it was
answering and nothing after. Prints "listening" once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
import time

HOST = "127.0.0.1"
DOWN_SECONDS = 2.0
CHUNK = 65536


class Balancer:
    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.turn = itertools.cycle(range(len(backends)))
        self.down_until = dict.fromkeys(backends, 0.0)

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self.backends)):
            port = self.backends[next(self.turn)]
            if self.down_until[port] > time.monotonic():
                continue
            try:
                return await asyncio.open_connection(HOST, port)
            except OSError:
                self.down_until[port] = time.monotonic() + DOWN_SECONDS
        return None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self.connect()
        if upstream is None:  # every backend is down: the client sees its connection closed
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        # One side ended: end the other, as a proxy does (a killed backend resets its clients).
        with contextlib.suppress(OSError):
            writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--backend", type=int, action="append", required=True)
    args = parser.parse_args()
    balancer = Balancer(args.backend)
    server = await asyncio.start_server(balancer.serve, HOST, args.listen, backlog=2048)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("listening", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
