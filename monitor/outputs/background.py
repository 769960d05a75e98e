"""Blocking work off the event loop, with a deadline the loop can keep whatever the work does.

``asyncio.to_thread`` runs work on the loop's default executor, whose threads are joined when
the loop closes: a call stuck in a write to a terminal nobody reads would then hang the exit.
Here the work runs on its own daemon thread; after ``timeout_s`` the caller goes on without it
and the process may end while it is still blocked (docs/reliability.md, "Bounded ends").
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class StillRunning(Exception):
    """The work did not finish within its deadline; its thread is left behind."""


async def in_daemon_thread(work: Callable[[], T], timeout_s: float, name: str) -> T:
    """Run ``work()`` on a new daemon thread; its result, or :class:`StillRunning`."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(value)  # type: ignore[arg-type]

    def target() -> None:
        try:
            value = work()
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                loop.call_soon_threadsafe(settle, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, value, None)

    threading.Thread(target=target, name=f"cryoguard-{name}", daemon=True).start()
    try:
        async with asyncio.timeout(timeout_s):
            return await asyncio.shield(done)
    except TimeoutError:
        raise StillRunning(f"{name} did not finish within {timeout_s:g} s") from None
