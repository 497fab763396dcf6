"""Every named mistake of every check is reachable: fed to the check's own comparison as the
learner's answer, each typical wrong answer is reported with its own label, not with another
mistake's label or a generic sentence. (A mistake listed after one that gives the same numbers
on the first failing case, or one that equals the reference on every case, would never be named.)
The hand-written wrong answers of tests/test_check_mistakes.py and the notebook test files are
the second wrong answer per mistake."""
import sys

import pytest

import checks
from checks.core import find_problem
from checks.references import REFERENCES, reference

CHECKS = sorted(name[len("check_"):] for name in dir(checks)
                if name.startswith("check_") and name[len("check_"):] in REFERENCES)


def _comparison(name):
    """The arguments the check passes to run_check: (learner, reference, cases, mistakes, kwargs)."""
    check = getattr(checks, f"check_{name}")
    module = sys.modules[check.__module__]
    seen = {}

    def spy(label, learner_fn, reference_fn, cases, mistakes=None, extra=None, rtol=1e-3,
            atol=1e-4, returns=None, index_name=None):
        seen.update(reference_fn=reference_fn, cases=cases, mistakes=mistakes or {},
                    rtol=rtol, atol=atol, index_name=index_name)
        return (returns or (learner_fn, reference_fn))[0]

    real = module.run_check
    module.run_check = spy
    try:
        check(reference(name))
    finally:
        module.run_check = real
    return seen


def test_every_check_is_covered():
    assert len(CHECKS) >= 20, CHECKS


@pytest.mark.parametrize("name", CHECKS)
def test_each_named_mistake_is_reported_with_its_own_label(name):
    seen = _comparison(name)
    assert len(seen["mistakes"]) >= 2, f"{name} names fewer than two mistakes"
    for label, wrong in seen["mistakes"].items():
        problem = find_problem(wrong, seen["reference_fn"], seen["cases"], seen["mistakes"],
                               rtol=seen["rtol"], atol=seen["atol"], index_name=seen["index_name"])
        assert problem is not None and label in problem, (name, label, problem)
