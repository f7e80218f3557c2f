"""Running an operation's steps on an asyncio client: patterns.steps, with each round trip awaited.

The generators, and with them every decision, are the synchronous modules' own (see
patterns.steps). Only the running differs: a script call, a command, a batch, the fetcher
and a pause are awaited, so a task waiting on Redis lets the event loop run the others.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Awaitable, Callable, TypeVar

from ..steps import FETCH, Batch, Command, Pause, Steps
from .connection import check_loop, gate
from .scripts import run as run_script

T = TypeVar("T")


async def run(r: Any, steps: Steps[T], *, fetcher: Callable[[], Any] | None = None,
              sleep: Callable[[float], Any] | None = None) -> T:
    """Run ``steps`` to their value on asyncio client ``r`` (a fetcher or a sleep may be async or plain)."""
    try:
        step = next(steps)
        while True:
            try:
                kind = type(step)
                if kind is tuple:
                    script, script_keys, args = step
                    result = await run_script(script, r, script_keys, args)
                elif kind is Command:
                    result = await _bounded(r, r.execute_command, *step)
                elif kind is Batch:
                    result = await _bounded(r, _batch, r, step)
                elif step is FETCH:
                    result = await _maybe(fetcher())  # type: ignore[misc]
                elif kind is Pause:
                    result = await _maybe(sleep(step))  # type: ignore[misc]
                else:
                    raise TypeError(f"not a step: {step!r}")
            except BaseException as error:
                step = steps.throw(error)
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value


async def _maybe(result: Any) -> Any:
    return (await result) if inspect.isawaitable(result) else result


async def _bounded(r: Any, call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Await ``call(*args)`` within the cluster's bound on commands in flight (see connection.gate)."""
    check_loop(r)
    bound = gate(r)
    if bound is None:
        return await call(*args)
    async with bound:
        return await call(*args)


async def _batch(r: Any, step: Batch) -> list[Any]:
    async with r.pipeline(transaction=step.transaction) as pipe:
        for command in step.commands:
            pipe.execute_command(*command)
        return await pipe.execute()


def awaited(plan: Callable[..., Steps[T]]) -> Callable[..., Awaitable[T]]:
    """An async method that runs ``plan(self, ...)``'s steps on ``self.r`` (its name, docstring and signature)."""

    @functools.wraps(plan)
    async def method(self: Any, *args: Any, **kwargs: Any) -> T:
        return await run(self.r, plan(self, *args, **kwargs))

    method.__name__ = plan.__name__.lstrip("_")  # the public name: "create", not the plan's "_create"
    method.__qualname__ = f"{plan.__qualname__.rpartition('.')[0]}.{method.__name__}".lstrip(".")
    return method
