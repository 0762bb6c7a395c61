"""The connection backlog: the reader waits only past its bounds, and says when it does."""

from __future__ import annotations

import asyncio

from flux_cli.server.backlog import Backlog


def test_audio_waits_only_past_the_byte_bound_and_resumes_half_way() -> None:
    async def main() -> None:
        backlog: Backlog[str] = Backlog(max_bytes=100, max_messages=4)
        await backlog.put("a", 40)
        await backlog.put("b", 40)
        assert not backlog.paused and backlog.pauses == 0
        third = asyncio.create_task(backlog.put("c", 40))  # 120 bytes: the reader waits
        await asyncio.sleep(0)
        assert backlog.paused and not third.done() and backlog.pauses == 1
        backlog.put_now("fatal")  # our own items never wait
        assert await backlog.get() == "a"  # 80 bytes left: above half, still waiting
        await asyncio.sleep(0)
        assert backlog.paused and not third.done()
        assert await backlog.get() == "b"  # 40 left: room again
        await asyncio.wait_for(third, 1)
        assert not backlog.paused
        assert [await backlog.get() for _ in range(2)] == ["c", "fatal"]

    asyncio.run(main())


def test_control_messages_are_bounded_by_count_and_drop_all_frees_the_reader() -> None:
    async def main() -> None:
        backlog: Backlog[str] = Backlog(max_bytes=1 << 20, max_messages=2)
        await backlog.put("KeepAlive", 20, message=True)
        waiting = asyncio.create_task(backlog.put("Configure", 20, message=True))
        await asyncio.sleep(0)
        assert backlog.paused
        backlog.drop_all()
        await asyncio.wait_for(waiting, 1)
        assert len(backlog) == 0 and backlog.bytes == 0 and backlog.messages == 0

    asyncio.run(main())
