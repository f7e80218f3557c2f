"""Chapter checker tests (scaling): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations

import hashlib
import uuid

import pytest

from helpers import messages_of

# -- notebook 08: hash tags for any user id --------------------------------------------------------

from patterns import keys
from patterns.exercises import scaling
from patterns.keys import _escape_braces  # a learner's `from patterns.keys import ...` keeps the original
from redis.cluster import key_slot
from solutions.scaling import keys_for as reference_keys_for


def seed_names(user_id):  # the seed's way of naming keys: `user:${id}`, no tag
    return f"profile:{user_id}", f"sessions:{user_id}"


def the_chapters_shape(user_id):  # `{user:1}:profile` from the lab, with the id as it comes
    return f"{{{user_id}}}:profile", f"{{{user_id}}}:sessions"


def the_workbooks_builder(user_id):  # one call into patterns: keys.key works without a client
    return keys.key(None, "profile", user_id), keys.key(None, "sessions", user_id)


def braces_dropped(user_id):
    tag = user_id.replace("{", "").replace("}", "")
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def braces_replaced(user_id):
    tag = user_id.replace("{", "_").replace("}", "_")
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def braces_encoded_but_not_percent(user_id):
    tag = user_id.replace("{", "%7B").replace("}", "%7D")
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def hashed_tag(user_id):  # another right answer: a digest of the id cannot hold a brace
    tag = hashlib.sha256(user_id.encode()).hexdigest()
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def a_new_tag_every_call(user_id):  # unique and spread, but the user never finds the same keys twice
    tag = uuid.uuid4().hex
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def the_builders_escape_imported_by_name(user_id):  # one call into patterns, under another name
    tag = _escape_braces(user_id)
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def braces_to_parentheses(user_id):  # no brace left, but `a{b` and `a(b` become one user
    tag = user_id.replace("{", "(").replace("}", ")")
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def a_short_digest(user_id):  # 24 bits of a digest: two users share a key after a few thousand sign-ups
    tag = hashlib.sha256(user_id.encode()).hexdigest()[:6]
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def cut_to_64(user_id):  # a length limit on the tag: long ids that start alike become one user
    tag = user_id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")[:64]
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def pythons_own_hash(user_id):  # hash() of a str changes from one process to the next
    tag = hash(user_id) & 0xFFFFFFFFFFFF
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


WRONG = [
    (seed_names, "for the user id 'user-0', 'profile:user-0' and 'sessions:user-0' are in slots 2083 and 13689: "
                 "a script touching both would fail with CROSSSLOT"),
    (the_workbooks_builder, "the names came from the workbook's own key builder (patterns.keys)"),
    (the_chapters_shape, "for the user id '}x', '{}x}:profile' and '{}x}:sessions' are in slots"),
    (braces_dropped, "for the user id '{', 'profile:{}' and 'sessions:{}' are in slots"),
    (braces_replaced, "the users 'a{b' and 'a}b' both get the key 'profile:{a_b}'"),
    (braces_encoded_but_not_percent, "the users 'a{b' and 'a%7Bb' both get the key 'profile:{a%7Bb}'"),
    (lambda u: (f"{{users}}:profile:{u}", f"{{users}}:sessions:{u}"), "200 users use only 1 slot(s)"),
    (lambda u: ("{x}:profile", "{x}:sessions"), "the users 'user-0' and 'user-1' both get the key '{x}:profile'"),
    (lambda u: (f"{{{u}}}", f"{{{u}}}"), "need different names"),
    (lambda u: [f"{{{u}}}a", f"{{{u}}}b"], "return a tuple"),
    (a_new_tag_every_call, "keys_for('user-0') returned"),
    (the_builders_escape_imported_by_name, "the names came from the workbook's own key builder (patterns.keys)"),
    (braces_to_parentheses, "both get the key 'profile:{a(b}'"),
    (a_short_digest, "both get the key 'profile:{"),
    (pythons_own_hash, "another app server (another process) would compute other names"),
    (cut_to_64, "both get the key 'profile:{xxxxxxxx"),
]


@pytest.mark.parametrize(("solution", "says"), WRONG, ids=[f"wrong-{i}" for i in range(len(WRONG))])
def test_scaling_checker_names_the_problem(capsys, solution, says):
    scaling.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out, out
    assert out.count("\n") == 1


def only_the_closing_brace_encoded(user_id):  # right too: a `{` inside a tag does not end it
    tag = user_id.replace("%", "%25").replace("}", "%7D")
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


def hexadecimal(user_id):  # right: hex of the UTF-8 bytes is one to one and holds no brace
    tag = user_id.encode().hex()
    return f"{{{tag}}}:profile", f"{{{tag}}}:sessions"


def url_quoted(user_id):  # right: the standard library's percent-encoding
    from urllib.parse import quote
    tag = quote(user_id, safe="")
    return f"profile:{{{tag}}}", f"sessions:{{{tag}}}"


RIGHT = [reference_keys_for, hashed_tag, only_the_closing_brace_encoded, hexadecimal, url_quoted]


@pytest.mark.parametrize("solution", RIGHT, ids=["reference", "digest", "closing-brace", "hex", "url-quote"])
def test_scaling_right_answers_pass(capsys, solution):
    scaling.check(solution)
    assert capsys.readouterr().out.startswith("✓ each user's two keys share a slot")


def test_the_check_leaves_the_workbooks_key_builder_as_it_was(capsys):
    before = (keys._check_part, keys._escape_braces)
    scaling.check(the_workbooks_builder)
    scaling.check(lambda u: 1 / 0)
    assert (keys._check_part, keys._escape_braces) == before
    assert keys.key(None, "profile", "a{b") == "profile:{a%7Bb}"


# Words that would hand over the answer: a checker's message says what is wrong, not what to type.
GIVEAWAYS = ["tag with", "hash tag", "escape", "encod", "%25", "replace", "user id as", "digest"]


def test_the_scaling_checker_never_names_the_answer(capsys):
    out = messages_of(scaling.check, [s for s, _ in WRONG], capsys)
    assert [word for word in GIVEAWAYS if word in out] == []


def test_chapter_08_exercise_says_the_key_builder_is_off_limits():
    from pathlib import Path

    import nbformat

    cells = nbformat.read(Path(__file__).parent.parent / "notebooks" / "08_scaling_out.ipynb", as_version=4).cells
    statement = next(cell.source for cell in cells if cell.source.startswith("## 6 Exercise"))
    assert "without `patterns.keys`" in statement
    hint3 = next(cell.source for cell in cells if "Hint 3: what to read about" in cell.source)
    assert "percent-encoding" not in hint3 and "hexadecimal" not in hint3
