"""One implementation of each operation for both kinds of client: an operation as its steps.

An operation that takes several round trips (a cache miss, a session's rotation) is written
once, as a generator that yields what it needs from Redis and is sent what came back:

* ``(script, keys, args)``  a Lua script call (a ``LuaScript``: EVALSHA, else EVAL);
* ``Command("HGETALL", key)``  one plain command;
* ``Batch([...], transaction=False)``  commands sent together in one round trip (a pipeline;
  ``transaction=True`` wraps them in MULTI/EXEC);
* ``FETCH``  the caller's fetcher, for a cache (the database query);
* ``Pause(seconds)``  a wait before trying again.

An error is thrown into the generator where the step was yielded, so it handles a failed
round trip exactly where it would handle a failed call. ``run`` here makes each step a plain
call; ``patterns.aio.steps.run`` awaits them. The decisions, keys and checks stay in the
generator, shared, so the synchronous and the asyncio API cannot drift apart.
"""
from __future__ import annotations

import functools
import time
from typing import Any, Callable, Generator, TypeVar

T = TypeVar("T")
Steps = Generator[Any, Any, T]

FETCH = "fetch"


class Pause(float):
    """Seconds to wait before the next step (a caller waiting for another caller's fill)."""


class Command(tuple):
    """One plain command, as its arguments: ``Command(("HGETALL", key))``."""


class Batch:
    """Commands sent in one round trip: replies in order (each error reply raised at the first)."""

    __slots__ = ("commands", "transaction")

    def __init__(self, commands: list[tuple[Any, ...]], *, transaction: bool = False) -> None:
        self.commands, self.transaction = commands, transaction


def run(r: Any, steps: Steps[T], *, fetcher: Callable[[], Any] | None = None,
        sleep: Callable[[float], Any] = time.sleep) -> T:
    """Run ``steps`` to their value on client ``r``, each step a plain call made in this thread."""
    try:
        step = next(steps)
        while True:
            try:
                kind = type(step)
                if kind is tuple:  # the common case first: a script call
                    script, script_keys, args = step
                    result = script(r, script_keys, args)
                elif kind is Command:
                    result = r.execute_command(*step)
                elif kind is Batch:
                    result = batch(r, step)
                elif step is FETCH:
                    result = fetcher()  # type: ignore[misc]
                elif kind is Pause:
                    result = sleep(step)
                else:
                    raise TypeError(f"not a step: {step!r}")
            except BaseException as error:
                step = steps.throw(error)
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value


def batch(r: Any, step: Batch) -> list[Any]:
    pipe = r.pipeline(transaction=step.transaction)
    for command in step.commands:
        pipe.execute_command(*command)
    return pipe.execute()


def synchronous(plan: Callable[..., Steps[T]]) -> Callable[..., T]:
    """A method that runs ``plan(self, ...)``'s steps on ``self.r`` (its name, docstring and signature)."""

    @functools.wraps(plan)
    def method(self: Any, *args: Any, **kwargs: Any) -> T:
        return run(self.r, plan(self, *args, **kwargs))

    method.__name__ = plan.__name__.lstrip("_")  # the public name: "create", not the plan's "_create"
    method.__qualname__ = f"{plan.__qualname__.rpartition('.')[0]}.{method.__name__}".lstrip(".")
    return method
