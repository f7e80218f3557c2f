"""Awaiting a patterns.scripts.LuaScript: EVALSHA, else EVAL, on an asyncio client.

The scripts themselves, their files and their SHA1s are the synchronous module's: one
``LuaScript`` object serves both kinds of client.
"""
from __future__ import annotations

from typing import Any, Sequence

import redis

from ..scripts import LuaScript
from .connection import bounded


async def run(script: LuaScript, r: Any, keys: Sequence[str], args: Sequence[Any] = ()) -> Any:
    """``script(r, keys, args)`` for an asyncio client (a PackedArgs is sent as its items)."""
    return await bounded(r, lambda: _run(script, r, keys, args))


async def _run(script: LuaScript, r: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
    try:
        return await r.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return await r.execute_command("EVAL", script.source, len(keys), *keys, *args)
