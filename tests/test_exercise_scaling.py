"""Chapter checker tests (scaling): the reference passes; each wrong answer gets one line naming its problem."""
from __future__ import annotations


import pytest

# -- notebook 08: hash tags ------------------------------------------------------------------------

from patterns.exercises import scaling
from solutions.scaling import keys_for as reference_keys_for



@pytest.mark.parametrize(
    ("solution", "says"),
    [
        (lambda u: (f"profile:{u}", f"sessions:{u}"), "would fail with CROSSSLOT"),
        (lambda u: (f"{{users}}:profile:{u}", f"{{users}}:sessions:{u}"), "use only 1 slot(s)"),
        (lambda u: (f"{{{u}}}", f"{{{u}}}"), "need different names"),
        (lambda u: ("{x}:profile", "{x}:sessions"), "do not contain the user id"),
        (lambda u: [f"{{{u}}}a", f"{{{u}}}b"], "return a tuple"),
    ],
)
def test_scaling_checker_names_the_problem(capsys, solution, says):
    scaling.check(solution)
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and says in out


def test_scaling_reference_passes(capsys):
    scaling.check(reference_keys_for)
    assert capsys.readouterr().out.startswith("✓ each user's two keys share a slot")


