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

from .connection import UNAVAILABLE_ERRORS, PackedArgs, command, command_after, is_cluster, pack_head, send_batch


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
        """Each ``(keys, args)`` call's reply, in order, sent in one write per server: never twice.

        A reply is what ``self(r, keys, args)`` returns, or an exception object: an error reply
        (the calls after it ran too), or, for a call whose reply never came back, the
        connection's error (that call may have run, so it is not sent again). On a cluster the
        calls go to the node of their first key, one batch per node, and a node that fails makes
        the client read the cluster's slot map again (after a failover the next batch goes to
        the new primary). A call that did not run because the node no longer has the script (a
        restart, a flush) or the key's slot (MOVED, ASK) is then sent again on its own, the way
        a single call would recover; for one key that keeps its calls in order (they all fail
        alike), unless another client reloads the script in the middle of a batch.
        """
        replies: list[Any] = [None] * len(calls)
        for client, numbers in self._by_server(r, calls):
            got = self._batch(client, [calls[n] for n in numbers])
            for n, reply in zip(numbers, got):
                replies[n] = reply
            if client is not r and any(isinstance(reply, UNAVAILABLE_ERRORS) for reply in got):
                r.nodes_manager.initialize()  # what redis-py does after a node's connection error
        for n, reply in enumerate(replies):
            if reply is None or isinstance(reply, (redis.exceptions.NoScriptError, redis.exceptions.AskError)):
                try:  # None: a call with no keys, which any node may run; MOVED is an AskError
                    replies[n] = self(r, *calls[n])
                except redis.RedisError as error:
                    replies[n] = error
        return replies

    @staticmethod
    def _by_server(r: Any, calls: list[tuple[Sequence[str], Sequence[Any]]]) -> list[tuple[Any, list[int]]]:
        if not is_cluster(r):
            return [(r, list(range(len(calls))))] if calls else []
        nodes: dict[str, tuple[Any, list[int]]] = {}
        for n, (keys, _) in enumerate(calls):
            if keys:  # a call without keys is sent on its own (run_many)
                node = r.get_node_from_key(keys[0])
                nodes.setdefault(node.name, (r.get_redis_connection(node), []))[1].append(n)
        return list(nodes.values())

    def _batch(self, client: Any, calls: list[tuple[Sequence[str], Sequence[Any]]]) -> list[Any]:
        try:
            client.script_load(self.source)  # a batch cannot fall back to EVAL: loaded first, every time
        except UNAVAILABLE_ERRORS as error:
            return [error] * len(calls)  # nothing of the batch went out
        return send_batch(client, [("EVALSHA", self.sha, len(keys), *keys, *args) for keys, args in calls])

    def __repr__(self) -> str:
        return f"<LuaScript {self.name} sha={self.sha[:8]}>"


def load_script(name: str) -> LuaScript:
    """Read ``patterns/lua/<name>.lua`` (once, at import of the module that uses it)."""
    source = resources.files("patterns").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")
    return LuaScript(name, source)
