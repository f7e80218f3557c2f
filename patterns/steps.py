"""One implementation of each operation for both kinds of client: an operation as its steps.

An operation that takes several round trips (a cache miss, a session's rotation) is written
once, as a generator that yields what it needs from Redis and is sent what came back:

* ``(script, keys, args)``  a Lua script call (a ``LuaScript``: EVALSHA, else EVAL);
* ``Command(("HGETALL", key))``  one plain command, as its arguments;
* ``Batch([...], transaction=False)``  commands sent together in one round trip (a pipeline;
  ``transaction=True`` wraps them in MULTI/EXEC);
* ``SendOnce(node, [...])``  commands for one server sent in one write and never again, one reply
  or error each (``connection.send_batch``): for work that must not count twice;
* ``FETCH``  the caller's fetcher, for a cache (the database query);
* ``Pause(seconds)``  a wait before trying again;
* ``Background((step,))``  a step nobody waits for (giving a fill token back on the way out of a
  cancelled call): run here at once, sent off by the asyncio runner to finish on its own, so a
  second cancel cannot stop it half-way and the caller's own deadline is not held up by it.

An error is thrown into the generator where the step was yielded, so it handles a failed
round trip exactly where it would handle a failed call. ``run`` here makes each step a plain
call; ``patterns.aio.steps.run`` awaits them. The decisions, keys and checks stay in the
generator, shared, so the synchronous and the asyncio API cannot drift apart.
"""
from __future__ import annotations

import functools
import inspect
import time
from typing import Any, Callable, Generator, TypeVar

from .connection import UNAVAILABLE_ERRORS, send_batch

T = TypeVar("T")
Steps = Generator[Any, Any, T]

FETCH = "fetch"


class Pause(float):
    """Seconds to wait before the next step (a caller waiting for another caller's fill)."""


class Command(tuple):
    """One plain command, as its arguments: ``Command(("HGETALL", key))``; ``options`` go to
    redis-py's reply parser (``Command(("XPENDING", ...), parse_detail=True)``, as xpending_range sends)."""

    options: dict[str, Any]

    def __new__(cls, args: tuple[Any, ...], **options: Any) -> "Command":
        made = super().__new__(cls, args)
        made.options = options
        return made


class Background(tuple):
    """A step whose result nobody waits for: ``Background(((script, keys, args),))``, its one step inside.

    Its errors are the step's own business (logged at debug level by the asyncio runner): what
    it does must be safe to lose, like a fill token given back, which expires by itself anyway.
    """

    @property
    def step(self) -> Any:
        return self[0]


class _Raised(Exception):
    """Carries a StopIteration raised by a fetcher through the steps (a generator turns one into RuntimeError)."""

    def __init__(self, error: StopIteration) -> None:
        super().__init__(error)
        self.error = error


class Batch:
    """Commands sent in one round trip: replies in order (each error reply raised at the first)."""

    __slots__ = ("commands", "transaction")

    def __init__(self, commands: list[tuple[Any, ...]], *, transaction: bool = False) -> None:
        self.commands, self.transaction = commands, transaction


class SendOnce:
    """Commands for one server in one write, never sent again: a reply or an exception for each.

    ``node`` is None for the client's own server, else the cluster node they are for (from the
    client's ``get_node_from_key``). An error reply comes back as its exception; when the
    connection fails, every command whose reply was not read gets the connection's error (it may
    have run). After such a failure on a cluster node the client reads the slot map again, as
    redis-py does after a node's connection error, so the next batch finds a new primary.
    """

    __slots__ = ("node", "commands")

    def __init__(self, node: Any, commands: list[tuple[Any, ...]]) -> None:
        self.node, self.commands = node, commands


def run(r: Any, steps: Steps[T], *, fetcher: Callable[[], Any] | None = None,
        sleep: Callable[[float], Any] = time.sleep) -> T:
    """Run ``steps`` to their value on client ``r``, each step a plain call made in this thread."""
    try:
        step = next(steps)
        while True:
            try:
                result = _one(r, step, fetcher, sleep)
            except BaseException as error:
                step = steps.throw(carried(error))
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value
    except _Raised as raised:
        raise raised.error from None


def _one(r: Any, step: Any, fetcher: Callable[[], Any] | None, sleep: Callable[[float], Any]) -> Any:
    kind = type(step)
    if kind is tuple:  # the common case first: a script call
        script, script_keys, args = step
        return script(r, script_keys, args)
    if kind is Command:
        return r.execute_command(*step, **step.options)
    if kind is Batch:
        return batch(r, step)
    if kind is SendOnce:
        return send_once(r, step)
    if step is FETCH:
        return fetcher()  # type: ignore[misc]
    if kind is Pause:
        return sleep(step)
    if kind is Background:
        return _one(r, step.step, fetcher, sleep)
    raise TypeError(f"not a step: {step!r}")


def carried(error: BaseException) -> BaseException:
    """What to throw into the steps for ``error``: itself, or a StopIteration in a carrier (see _Raised)."""
    return _Raised(error) if isinstance(error, StopIteration) else error


def batch(r: Any, step: Batch) -> list[Any]:
    pipe = r.pipeline(transaction=step.transaction)
    for command in step.commands:
        pipe.execute_command(*command)
    return pipe.execute()


def send_once(r: Any, step: SendOnce) -> list[Any]:
    client = r if step.node is None else r.get_redis_connection(step.node)
    replies = send_batch(client, step.commands)
    if step.node is not None and any(isinstance(reply, UNAVAILABLE_ERRORS) for reply in replies):
        r.nodes_manager.initialize()
    return replies


def synchronous(plan: Callable[..., Steps[T]]) -> Callable[..., T]:
    """A method that runs ``plan(self, ...)``'s steps on ``self.r`` (its name, docstring and signature)."""

    @functools.wraps(plan)
    def method(self: Any, *args: Any, **kwargs: Any) -> T:
        return run(self.r, plan(self, *args, **kwargs))

    return public(method, plan)


def public(method: Callable[..., Any], plan: Callable[..., Steps[Any]]) -> Callable[..., Any]:
    """``method`` as the public face of ``plan``: its name without the underscore ("create", not
    "_create"), and the signature a reader should see, returning what the steps give (``str``),
    not ``Steps[str]``. ``operations()`` then names the class it is on."""
    method.__name__ = plan.__name__.lstrip("_")
    method.__qualname__ = f"{plan.__qualname__.rpartition('.')[0]}.{method.__name__}".lstrip(".")
    signature = inspect.signature(plan)
    returns = signature.return_annotation
    if isinstance(returns, str) and returns.startswith("Steps[") and returns.endswith("]"):
        returns = returns[len("Steps["):-1]
    method.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
    del method.__wrapped__  # type: ignore[attr-defined]  # help() would show the plan's signature again
    return method


def operations(wrap: Callable[[Callable[..., Steps[Any]]], Callable[..., Any]]) -> Callable[[type], type]:
    """A class decorator: for each name in the class's ``OPERATIONS``, the method ``name`` that runs
    ``_name``'s steps, made by ``wrap`` (``synchronous`` here, ``patterns.aio.steps.awaited``).

    The list lives once, on the base class both kinds share, so neither kind can lack an operation.
    """

    def decorate(cls: type) -> type:
        for name in cls.OPERATIONS:  # type: ignore[attr-defined]
            method = wrap(getattr(cls, f"_{name}"))
            method.__qualname__ = f"{cls.__qualname__}.{name}"  # help() and tracebacks name this class
            setattr(cls, name, method)
        return cls

    return decorate

