"""Running an operation's steps on an asyncio client: patterns.steps, with each round trip awaited.

The generators, and with them every decision, are the synchronous modules' own (see
patterns.steps). Only the running differs: a script call, a command, a batch, the fetcher
and a pause are awaited, so a task waiting on Redis lets the event loop run the others.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from typing import Any, Awaitable, Callable, TypeVar

from ..connection import UNAVAILABLE_ERRORS
from ..steps import FETCH, Background, Batch, Command, Pause, SendOnce, Steps, _Raised, carried, public
from .connection import bounded, send_batch
from .scripts import run as run_script

T = TypeVar("T")
log = logging.getLogger(__name__)


async def run(r: Any, steps: Steps[T], *, fetcher: Callable[[], Any] | None = None,
              sleep: Callable[[float], Any] | None = None) -> T:
    """Run ``steps`` to their value on asyncio client ``r`` (a fetcher or a sleep may be async or plain)."""
    try:
        step = next(steps)
        while True:
            try:
                result = await _one(r, step, fetcher, sleep)
            except BaseException as error:
                step = steps.throw(carried(error))
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value
    except _Raised as raised:
        raise raised.error from None


async def _one(r: Any, step: Any, fetcher: Callable[[], Any] | None, sleep: Callable[[float], Any] | None) -> Any:
    kind = type(step)
    if kind is tuple:
        script, script_keys, args = step
        return await run_script(script, r, script_keys, args)
    if kind is Command:
        return await bounded(r, lambda: r.execute_command(*step, **step.options))
    if kind is Batch:
        return await bounded(r, lambda: _batch(r, step))
    if kind is SendOnce:
        return await bounded(r, lambda: _send_once(r, step))
    if step is FETCH:
        return await _maybe(fetcher())  # type: ignore[misc]
    if kind is Pause:
        return await _maybe(sleep(step))  # type: ignore[misc]
    if kind is Background:
        in_background(asyncio.ensure_future(_one(r, step.step, fetcher, sleep)), "a step left to finish by itself")
        return None
    raise TypeError(f"not a step: {step!r}")


# Calls still running after their caller moved on (a fill token's give-back, a lock's release after a
# cancel): kept here so they are not garbage collected half-way, and so drain() can wait for them.
_background: set[asyncio.Future[Any]] = set()


def in_background(call: asyncio.Future[Any], what: str) -> asyncio.Future[Any]:
    """Let ``call`` finish by itself, kept until it does; its failure is logged at debug level."""
    _background.add(call)
    call.add_done_callback(_background.discard)
    call.add_done_callback(lambda done: done.cancelled() or done.exception() is None
                           or log.debug("%s failed: %s", what, done.exception()))
    return call


async def drain() -> None:
    """Wait for this event loop's calls still running in the background (a web app awaits it in its shutdown).

    Calls of a loop that stopped without finishing them (stopped, not closed by asyncio.run, which
    cancels them) are not this loop's to wait for: they are left alone.
    """
    loop = asyncio.get_running_loop()
    while mine := [call for call in _background if call.get_loop() is loop]:
        await asyncio.gather(*mine, return_exceptions=True)


async def _maybe(result: Any) -> Any:
    return (await result) if inspect.isawaitable(result) else result


async def _batch(r: Any, step: Batch) -> list[Any]:
    async with r.pipeline(transaction=step.transaction) as pipe:
        for command in step.commands:
            pipe.execute_command(*command)
        return await pipe.execute()


async def _send_once(r: Any, step: SendOnce) -> list[Any]:
    replies = await send_batch(r if step.node is None else step.node, step.commands)
    if step.node is not None and any(isinstance(reply, UNAVAILABLE_ERRORS) for reply in replies):
        await r.nodes_manager.initialize()
    return replies


def awaited(plan: Callable[..., Steps[T]]) -> Callable[..., Awaitable[T]]:
    """An async method that runs ``plan(self, ...)``'s steps on ``self.r`` (its name, docstring and signature)."""

    @functools.wraps(plan)
    async def method(self: Any, *args: Any, **kwargs: Any) -> T:
        return await run(self.r, plan(self, *args, **kwargs))

    return public(method, plan)
