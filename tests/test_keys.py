"""Key names: namespace prefix and hash tags, built in one place."""
from __future__ import annotations

import fakeredis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.cluster import key_slot

from patterns import keys


@pytest.fixture
def client():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


def test_key_without_namespace_has_kind_and_hash_tag(client):
    assert keys.key(client, "cache:menu", "today", "fill") == "cache:menu:{today}:fill"


def test_namespace_prefixes_every_key_and_channel(client):
    keys.set_namespace(client, "alice")
    assert keys.key(client, "cache:menu", "today") == "alice:cache:menu:{today}"
    assert keys.channel(client, "events") == "alice:events"
    assert keys.pattern(client, "cache") == "alice:cache:*"


def test_clearing_the_namespace_restores_plain_keys(client):
    keys.set_namespace(client, "alice")
    keys.set_namespace(client, None)
    assert keys.namespace_of(client) == ""
    assert keys.pattern(client) == "*"


@pytest.mark.parametrize("bad", ["", "a{b}", "a*", "-lead", "x" * 65, "sp ace", "alice\n",
                                 "a:", ":a", "a::b", "a:{b}", "a:*", "a:-lead", ":".join(["x" * 64] * 2) + ":y"])
def test_unsafe_namespaces_are_refused_with_the_rule(bad):
    with pytest.raises(ValueError, match="letters, digits"):
        keys.validate_namespace(bad)


@pytest.mark.parametrize("nested", ["alice:proof", "attendee-01:proof:2", ":".join(["x" * 64, "y" * 63])])
def test_a_nested_namespace_stays_inside_its_first_segment(client, nested):
    # A workshop attendee's ACL allows keys "<attendee>:*": a namespace "<attendee>:<more>" stays inside it.
    assert keys.validate_namespace(nested) == nested
    keys.set_namespace(client, nested)
    first = nested.split(":", 1)[0]
    assert keys.key(client, "cache", "menu").startswith(f"{first}:")
    assert keys.plain(client, "user:1") == f"{nested}:user:1"
    assert keys.channel(client, "events").startswith(f"{first}:")


def test_empty_name_is_refused(client):
    with pytest.raises(ValueError, match="key name must not be empty"):
        keys.key(client, "cache", "")


def test_non_string_name_is_refused(client):
    with pytest.raises(TypeError, match="key name must be a str"):
        keys.key(client, "cache", 42)


def test_braces_in_names_cannot_move_the_hash_tag(client):
    assert keys.key(client, "cache", "}a{%") == "cache:{%7Da%7B%25}"
    assert keys.key(client, "cache", "%7D") != keys.key(client, "cache", "}")


@given(name=st.text(min_size=1), suffix=st.text(alphabet="abcxyz:", min_size=1))
def test_every_key_of_one_object_shares_a_cluster_slot(name, suffix):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    main = keys.key(client, "cache:default", name)
    tag = main.encode().split(b"{", 1)[1].split(b"}", 1)[0]
    assert tag  # never an empty tag: that would hash the whole key
    assert key_slot(main.encode()) == key_slot(keys.key(client, "cache:default", name, suffix).encode())


def test_a_remembered_key_follows_the_client_namespace_and_still_refuses_bad_parts():
    client = fakeredis.FakeRedis()
    first = keys.key(client, "cache:x", "a{b}")
    assert keys.key(client, "cache:x", "a{b}") == first == "cache:x:{a%7Bb%7D}"
    keys.set_namespace(client, "alice")
    assert keys.key(client, "cache:x", "a{b}") == "alice:cache:x:{a%7Bb%7D}"  # not the memory of the other namespace
    keys.set_namespace(client, None)
    for _ in range(2):  # refused every time, not only before something was remembered
        with pytest.raises(ValueError, match="must not be empty"):
            keys.key(client, "cache:x", "")
        with pytest.raises(TypeError, match="must be a str"):
            keys.key(client, "cache:x", ["a"])
        with pytest.raises(TypeError, match="must be a str"):
            keys.key(client, "cache:x", 1)


def test_the_memory_of_keys_stays_bounded():
    client = fakeredis.FakeRedis()
    for i in range(keys._BUILT_MAX + 10):
        keys.key(client, "t", f"name-{i}")
    assert len(keys._built) <= keys._BUILT_MAX
    assert keys.key(client, "t", "name-0") == "t:{name-0}"
