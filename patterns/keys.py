"""Every key and channel name the patterns use is built here, and only here.

Two jobs, done in one place so no module can get them wrong:

* a namespace prefix carried by the client (``connect(namespace="alice")`` or
  ``WORKBOOK_NAMESPACE``), so many learners can share one server in a workshop;
* a ``{hash tag}`` around the name of the logical object, so every key of that
  object lands in one Redis Cluster slot and one Lua script may touch them all.
"""
from __future__ import annotations

import re
from typing import Any

_ATTRIBUTE = "_workbook_namespace"
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NAMESPACE_MAX = 128


def validate_namespace(namespace: str) -> str:
    """Return ``namespace`` if it is safe to use as a key prefix, else raise ValueError.

    A namespace is one or more ``:``-separated segments of letters, digits, ``_``, ``.``
    and ``-`` (128 characters in all). Braces are refused because they would move the
    cluster hash tag, and ``*`` because a workshop's ACL key pattern is
    ``<first segment>:*``: a nested namespace such as ``attendee-01:proof`` therefore stays
    inside attendee ``attendee-01``'s keys.
    """
    if (not isinstance(namespace, str) or len(namespace) > _NAMESPACE_MAX
            or not all(_SEGMENT_RE.fullmatch(segment) for segment in namespace.split(":"))):
        raise ValueError(
            f"namespace {namespace!r} is not usable: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (for example 'alice' or 'team-3'), or several such "
            "parts joined by ':' (for example 'alice:proof'), at most 128 characters in all"
        )
    return namespace


def set_namespace(r: Any, namespace: str | None) -> None:
    """Attach a namespace to a client; every key built for ``r`` is then prefixed."""
    if namespace:
        setattr(r, _ATTRIBUTE, validate_namespace(namespace))
    elif hasattr(r, _ATTRIBUTE):
        delattr(r, _ATTRIBUTE)


def namespace_of(r: Any) -> str:
    """The client's namespace, or '' when it has none."""
    return getattr(r, _ATTRIBUTE, "")


def _prefix(r: Any) -> str:
    namespace = namespace_of(r)
    return f"{namespace}:" if namespace else ""


def _check_part(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__} ({value!r})")
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def _escape_braces(name: str) -> str:
    # A brace inside the name would end (or empty) the hash tag and scatter one object's
    # keys over several slots. Percent-encoding is one-to-one, so names never collide.
    return name.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def key(r: Any, kind: str, name: str, *suffix: str) -> str:
    """``<namespace>:<kind>:{<name>}[:<suffix>...]``: one logical object's key.

    Every key built with the same ``kind`` and ``name`` shares the hash tag
    ``{name}``, so a script may touch all of them even on a cluster. Braces in
    ``name`` are percent-encoded so they cannot move the tag.
    """
    namespace = getattr(r, _ATTRIBUTE, "")
    try:  # the hot path, kept inline: a limiter or a cache builds its key on every call
        return _built[namespace, kind, name, suffix]
    except (KeyError, TypeError):
        return key_in(namespace, kind, name, *suffix)


def key_in(namespace: str, kind: str, name: str, *suffix: str) -> str:
    """``key(r, ...)`` for a client of ``namespace``: a host naming an attendee's keys, say."""
    try:
        return _built[namespace, kind, name, suffix]
    except (KeyError, TypeError):  # TypeError: an unhashable part, which the checks below name
        pass
    _check_part(kind, "kind")
    _check_part(name, "key name")
    tail = "".join(f":{_check_part(part, 'key suffix')}" for part in suffix)
    prefix = f"{validate_namespace(namespace)}:" if namespace else ""
    built = f"{prefix}{kind}:{{{_escape_braces(name)}}}{tail}"
    if type(kind) is str and type(name) is str and all(type(part) is str for part in suffix):
        if len(_built) >= _BUILT_MAX:
            _built.clear()
        _built[namespace, kind, name, suffix] = built
    return built


# Hot paths build the same few keys over and over (a rate limiter's caller, a cache entry): the
# checks and the escaping run once per distinct key, not once per request. Only keys built from
# plain str parts are remembered, and at most _BUILT_MAX of them (then the memory starts over).
_BUILT_MAX = 4096
_built: dict[tuple[Any, ...], str] = {}


def plain(r: Any, name: str) -> str:
    """``<namespace>:<name>``: a key named the way the seed names it, with no hash tag.

    For the notebooks' "as commonly written" code (``plain(r, "user:1")``): even the
    broken versions stay inside a workshop attendee's namespace, which is also the
    only place the attendee's ACL lets them write.
    """
    return f"{_prefix(r)}{_check_part(name, 'key name')}"


def channel(r: Any, name: str) -> str:
    """A pub/sub channel or stream name under the client's namespace."""
    return f"{_prefix(r)}{_check_part(name, 'channel name')}"


def pattern(r: Any, kind: str = "") -> str:
    """A SCAN MATCH pattern for every key of ``kind`` (or every key) in the namespace."""
    kind_part = f"{kind}:" if kind else ""
    return f"{_prefix(r)}{kind_part}*"
