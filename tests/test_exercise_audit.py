"""Chapter checker tests (audit): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations


import pytest

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
        (lambda r, m: [], "walk the keys with SCAN"),
    ],
)
def test_audit_checker_names_the_problem(capsys, solution, says):
    audit_exercise.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out


def test_audit_reference_passes(capsys):
    audit_exercise.check(reference_keys_without_ttl)
    assert capsys.readouterr().out.startswith("✓ 43 TTL-less keys found with SCAN")


