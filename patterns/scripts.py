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

    def __repr__(self) -> str:
        return f"<LuaScript {self.name} sha={self.sha[:8]}>"


def load_script(name: str) -> LuaScript:
    """Read ``patterns/lua/<name>.lua`` (once, at import of the module that uses it)."""
    source = resources.files("patterns").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")
    return LuaScript(name, source)
