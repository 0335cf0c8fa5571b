"""The SSH simulator host's event loop: asyncssh's executor work (options rebuilt after each log-in) runs on the
loop's own thread, not handed to a pool thread and back."""

from __future__ import annotations

import asyncio
import threading

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost


def test_default_executor_runs_on_the_loop_thread_and_passes_errors_back() -> None:
    with SSHSimulatorHost() as host:
        loop = host.loop

        async def where() -> tuple[int, int]:
            ran_on = await loop.run_in_executor(None, threading.get_ident)
            return ran_on, threading.get_ident()

        ran_on, loop_thread = asyncio.run_coroutine_threadsafe(where(), loop).result(10)
        assert ran_on == loop_thread

        def fails() -> None:
            raise ValueError("bad option")

        async def failing() -> None:
            await loop.run_in_executor(None, fails)

        with pytest.raises(ValueError, match="bad option"):
            asyncio.run_coroutine_threadsafe(failing(), loop).result(10)
