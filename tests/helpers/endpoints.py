"""Shared by several test modules (from test_server_endpoints.py; tests never import each other)."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Awaitable, Callable
from typing import Any

from conftest import timeout

from flux_cli.server.app import serve, server_port
from helpers.server_fakes import PINNED, fake_engine


async def get(port: int, path: str) -> tuple[int, str, dict[str, str]]:
    def blocking() -> tuple[int, str, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout(10))
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, response.read().decode(), headers
        finally:
            conn.close()

    return await asyncio.to_thread(blocking)


def with_server(body: Callable[[int], Awaitable[None]], **kwargs: Any) -> None:
    async def main() -> None:
        server = await serve(port=0, engine=fake_engine(), detector=PINNED, **kwargs)
        try:
            await asyncio.wait_for(body(server_port(server)), timeout(30))
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())


