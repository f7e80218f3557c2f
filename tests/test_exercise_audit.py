"""Chapter checker tests (audit): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations


import pytest

from helpers import messages_of

# -- notebook 07: TTL-less keys, found with SCAN --------------------------------------------------

from patterns.exercises import audit as audit_exercise
from solutions.audit import _ttl_less, keys_without_ttl as reference_keys_without_ttl




@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (lambda r, m: [k for k in r.keys(m) if r.ttl(k) == -1], "it uses KEYS"),
        (lambda r, m: [k for k in r.scan_iter() if r.ttl(k) == -1], "does not match the pattern"),
        (lambda r, m: [k for k in r.scan_iter(match=m) if r.ttl(k) == -1], "round trips for 300 keys"),
        (lambda r, m: [k for k in r.scan_iter(match=m) if r.ttl(k) < 0][:3], "missing"),
        (lambda r, m: [], "it sent nothing"),
        (lambda r, m: [k for k in r.scan_iter(match=m, count=1000) if r.ttl(k) == -1], "round trips for 300 keys"),
        (lambda r, m: _ttl_less(r, r.scan(0, match=m, count=10**6)[1]), "in one step"),
        (lambda r, m: 2 * reference_keys_without_ttl(r, m), "only 43 different ones"),
    ],
)
def test_audit_checker_names_the_problem(capsys, solution, says):
    audit_exercise.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out


def test_audit_reference_passes(capsys):
    audit_exercise.check(reference_keys_without_ttl)
    assert capsys.readouterr().out.startswith("✓ 43 TTL-less keys found with SCAN")


# Words that would hand over the answer: a checker's message says what is wrong, not what to type.
GIVEAWAYS = ["scan_iter", "pipeline", "match=", "count=", "transaction=", "ttl("]


def test_the_audit_checker_never_names_the_answer(capsys):
    wrong = [lambda r, m: [k for k in r.keys(m) if r.ttl(k) == -1],
             lambda r, m: [k for k in r.scan_iter() if r.ttl(k) == -1],
             lambda r, m: [k for k in r.scan_iter(match=m) if r.ttl(k) == -1],
             lambda r, m: [k for k in r.scan_iter(match=m) if r.ttl(k) < 0][:3],
             lambda r, m: [],
             lambda r, m: _ttl_less(r, r.scan(0, match=m, count=10**6)[1]),
             lambda r, m: 2 * reference_keys_without_ttl(r, m)]
    out = messages_of(audit_exercise.check, wrong, capsys)
    assert [word for word in GIVEAWAYS if word in out] == []
