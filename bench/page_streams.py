"""Installers' browsers for bench_page_latency.py: N clients, each logged in with its own
session, each holding the page's /api/stream open and reading every state it sends.

    .venv/bin/python bench/page_streams.py URL PASSWORD N

Prints `{"ready": N}` once every stream has had its first state; when stdin closes, closes
the streams and prints `{"states": [...], "bytes": ...}` (per client) and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp


class Client:
    def __init__(self, url: str, password: str) -> None:
        self._url = url.rstrip("/")
        self._password = password
        self.first = asyncio.Event()
        self.states = 0
        self.bytes = 0

    async def run(self) -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # the page is on an IP address
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            login = {"password": self._password}
            async with session.post(self._url + "/api/login", json=login) as answer:
                if answer.status != 200:
                    raise RuntimeError(f"login: HTTP {answer.status}")
            async with session.get(self._url + "/api/stream") as stream:
                async for line in stream.content:
                    self.bytes += len(line)
                    if line.startswith(b"event: state"):
                        self.states += 1
                        self.first.set()


async def main(url: str, password: str, count: int) -> None:
    clients = [Client(url, password) for _ in range(count)]
    tasks = [asyncio.create_task(client.run()) for client in clients]
    firsts = [asyncio.create_task(client.first.wait()) for client in clients]
    done, _ = await asyncio.wait([*tasks, asyncio.gather(*firsts)], return_when="FIRST_COMPLETED")
    for task in done & set(tasks):
        task.result()  # a client that ended before its first state: say why
    print(json.dumps({"ready": count}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, *firsts, return_exceptions=True)
    states = [client.states for client in clients]
    print(json.dumps({"states": states, "bytes": [client.bytes for client in clients]}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
