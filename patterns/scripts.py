"""Lua scripts: one commented file per atomic operation, in ``patterns/lua/``.

A script runs on the server as one step: nothing else happens between its
commands, and it costs one round trip. ``LuaScript`` sends the short SHA1
(``EVALSHA``); only when the server has not seen the script yet (a restart, a new
cluster node) does it fall back to ``EVAL``, which also caches it server-side.
It takes the client on every call, so one script object serves every client,
pipeline and cluster node. Every key a script touches is passed in KEYS (never
built inside the script): that is how a cluster knows which node must run it.
"""
from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any, Sequence

import redis

from . import steps
from .connection import PackedArgs, command, command_after, pack_head


class LuaScript:
    """A script loaded from ``patterns/lua/<name>.lua``, called as ``script(r, keys, args)``."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._heads: dict[tuple[int, int], bytes] = {}  # (keys, arguments) -> the packed EVALSHA prefix

    def __call__(self, r: Any, keys: Sequence[str], args: Sequence[Any] = ()) -> Any:
        """EVALSHA, else EVAL. ``args`` may be a PackedArgs, packed once by a caller that sends it often."""
        shape = (len(keys), len(args))
        head = self._heads.get(shape)
        if head is None:
            head = self._heads[shape] = pack_head(3 + shape[0] + shape[1], "EVALSHA", self.sha, shape[0])
        try:
            if type(args) is PackedArgs:
                return command_after(r, head, ("EVALSHA", self.sha, shape[0]), tuple(keys), args)
            return command_after(r, head, ("EVALSHA", self.sha, shape[0]), (*keys, *args))
        except redis.exceptions.NoScriptError:
            return command(r, "EVAL", self.source, len(keys), *keys, *args)

    def run_many(self, r: Any, calls: list[tuple[Sequence[str], Sequence[Any]]]) -> list[Any]:
        """Each ``(keys, args)`` call's reply, in order, sent in one write per server: never twice (see ``many``)."""
        return steps.run(r, self.many(r, calls))

    def many(self, r: Any, calls: list[tuple[Sequence[str], Sequence[Any]]]) -> steps.Steps[list[Any]]:
        """The steps of ``run_many``, for either kind of client (``patterns.aio.steps.run`` awaits them).

        A reply is what ``self(r, keys, args)`` returns, or an exception object: an error reply
        (the calls after it ran too), or, for a call whose reply never came back, the
        connection's error (that call may have run, so it is not sent again). On a cluster the
        calls go to the node of their first key, one batch per node, and a node that fails makes
        the client read the cluster's slot map again (after a failover the next batch goes to
        the new primary). Each batch starts with SCRIPT LOAD in the same write, so the server has
        the script before the first EVALSHA (a batch cannot fall back to EVAL). A call that did
        not run because its node no longer has the script (another client flushed it in the
        middle) or the key's slot (MOVED, ASK) is then sent again on its own, the way a single
        call would recover; for one key that keeps its calls in order (they all fail alike).
        """
        replies: list[Any] = [None] * len(calls)
        for node, numbers in self._by_server(r, calls):
            got = yield steps.SendOnce(node, [("SCRIPT", "LOAD", self.source),
                                              *(("EVALSHA", self.sha, len(calls[n][0]), *calls[n][0], *calls[n][1])
                                                for n in numbers)])
            for n, reply in zip(numbers, got[1:]):
                replies[n] = reply
        for n, reply in enumerate(replies):
            if reply is None or isinstance(reply, (redis.exceptions.NoScriptError, redis.exceptions.AskError)):
                try:  # None: a call with no keys, which any node may run; MOVED is an AskError
                    replies[n] = yield (self, *calls[n])
                except redis.RedisError as error:
                    replies[n] = error
        return replies

    @staticmethod
    def _by_server(r: Any, calls: list[tuple[Sequence[str], Sequence[Any]]]) -> list[tuple[Any, list[int]]]:
        """(node, the calls' numbers) per server: node None for a client of one server."""
        if not hasattr(r, "get_node_from_key"):  # one server (a cluster client, sync or asyncio, has it)
            return [(None, list(range(len(calls))))] if calls else []
        nodes: dict[str, tuple[Any, list[int]]] = {}
        for n, (keys, _) in enumerate(calls):
            if keys:  # a call without keys is sent on its own (many)
                node = r.get_node_from_key(keys[0])
                nodes.setdefault(node.name, (node, []))[1].append(n)
        return list(nodes.values())

    def __repr__(self) -> str:
        return f"<LuaScript {self.name} sha={self.sha[:8]}>"


def load_script(name: str) -> LuaScript:
    """Read ``patterns/lua/<name>.lua`` (once, at import of the module that uses it)."""
    source = resources.files("patterns").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")
    return LuaScript(name, source)
