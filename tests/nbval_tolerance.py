"""Compare notebook outputs from a GPU run with the stored CPU outputs: numbers to a tolerance,
everything else exactly (a pytest plugin on top of nbval, used by `make test-gpu`).

The solved notebooks are stored from a CPU run in fp32. On a GPU, other kernels (and in bf16,
8 bits of mantissa: about 0.4 % per rounding) move printed floats in their last digits. What a
GPU run must reproduce exactly, and why:

- every word, token, greedy answer and verdict ("passes", "✓", a generated continuation):
  a wrong answer shows up as different text;
- every integer: counts, shapes, token ids, layer and head numbers, and so the order of every
  printed ranking (its head and token names);
- the layout of the output (how many outputs, of which kind, the words between numbers).

Only numbers written with a decimal point (or an exponent) may differ, by at most
`rel * |stored| + abs` plus one unit of the last printed digit (rounding moves a printed value by
up to one unit). Exact rankings are only fair where margins are large: in bf16 the course
model swaps heads of near-equal relevance and moves counts near a threshold, so `make
test-gpu` holds the course model in fp32 on CUDA to this rule (tolerance 0.02, 0.005) and runs
the bf16 comparison (tolerance 0.1, 0.02, the defaults here) for information only; see
tools/test_gpu.py.

Use: `pytest -p tests.nbval_tolerance solutions/notebooks --nbval --nbval-float-tolerance 0.02,0.005`.
Without `--nbval-float-tolerance` the plugin changes nothing.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict

# a signed decimal with a point or an exponent: "0.42", "-1.5e-03", "3e-05"
FLOAT = re.compile(r"[-+]?(?:\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)")
DEFAULT_REL, DEFAULT_ABS = 0.1, 0.02
# Mime types whose text is compared with tolerance; all others stay exact (nbval's own check).
TEXT_KEYS = ("text/plain", "text/html", "text/markdown")


def _decimals(number: str) -> int:
    mantissa = number.lower().split("e")[0]
    return len(mantissa.split(".")[1]) if "." in mantissa else 0


def _unit(number: str) -> float:
    """One unit of the last printed digit ('0.42' -> 0.01; '1.5e-03' -> 1e-04)."""
    exponent = int(number.lower().split("e")[1]) if "e" in number.lower() else 0
    return 10.0 ** (exponent - _decimals(number))


def _skeleton(text: str) -> tuple[str, list[str]]:
    """(text with every float replaced by '#' and whitespace runs collapsed, the floats)."""
    floats = FLOAT.findall(text)
    return re.sub(r"\s+", " ", FLOAT.sub("#", text)).strip(), floats


def float_differences(stored: str, new: str, rel: float = DEFAULT_REL,
                      abs_tol: float = DEFAULT_ABS) -> list[str] | None:
    """None when `new` matches `stored` under the rules above, else what differs (one line each).

    Words, integers and layout must be equal; floats may differ by rel*|stored| + abs_tol + one
    unit of the stored value's last printed digit.
    """
    if stored == new:
        return []
    stored_skeleton, stored_floats = _skeleton(stored)
    new_skeleton, new_floats = _skeleton(new)
    if stored_skeleton != new_skeleton:
        return None
    problems = []
    for a, b in zip(stored_floats, new_floats):
        x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                problems.append(f"{a} -> {b}")
            continue
        if abs(x - y) > rel * abs(x) + abs_tol + _unit(a):
            problems.append(f"{a} -> {b}")
    return problems


def within_tolerance(stored: str, new: str, rel: float = DEFAULT_REL,
                     abs_tol: float = DEFAULT_ABS) -> bool:
    """True when `new` may stand for `stored` (see `float_differences`)."""
    return float_differences(stored, new, rel, abs_tol) == []


def _groups(outputs) -> dict[str, list]:
    """Outputs keyed as nbval pairs them: streams by name, everything else by kind, in order."""
    groups = defaultdict(list)
    for output in outputs:
        key = f"stream:{output.get('name')}" if output.get("output_type") == "stream" else "data"
        groups[key].append(output)
    return groups


def align_outputs(new: list, stored: list, rel: float, abs_tol: float) -> list:
    """A copy of `new` where each text within tolerance of its stored twin is the stored text.

    nbval then compares as usual: what is left different is reported by nbval itself, so a
    wrong answer still fails with nbval's diff.
    """
    import copy

    new = copy.deepcopy(new)
    stored_groups = _groups(stored)
    for key, outputs in _groups(new).items():
        for out, ref in zip(outputs, stored_groups.get(key, [])):
            if key.startswith("stream:"):
                if within_tolerance(ref.get("text", ""), out.get("text", ""), rel, abs_tol):
                    out["text"] = ref["text"]
                continue
            for mime in TEXT_KEYS:
                a, b = ref.get("data", {}).get(mime), out.get("data", {}).get(mime)
                if isinstance(a, str) and isinstance(b, str) and within_tolerance(a, b, rel, abs_tol):
                    out["data"][mime] = a
    return new


def parse_tolerance(value: str) -> tuple[float, float]:
    """'0.1,0.02' -> (rel, abs); a clear error otherwise."""
    try:
        rel, abs_tol = (float(v) for v in value.split(","))
    except ValueError:
        raise ValueError(f"--nbval-float-tolerance takes 'REL,ABS' (e.g. 0.1,0.02), not {value!r}") \
            from None
    if rel < 0 or abs_tol < 0:
        raise ValueError("--nbval-float-tolerance: both tolerances must be >= 0")
    return rel, abs_tol


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        "--nbval-float-tolerance", default=None, metavar="REL,ABS",
        help="accept printed floats within REL*|stored| + ABS (+ one unit of the last digit); "
             "words and integers stay exact (tests/nbval_tolerance.py)")


_original = {}


def pytest_configure(config):
    value = config.getoption("--nbval-float-tolerance")
    if value is None:
        return
    rel, abs_tol = parse_tolerance(value)
    from nbval.plugin import IPyNbCell

    original = IPyNbCell.compare_outputs
    _original["compare_outputs"] = original

    def compare_outputs(self, test, ref, skip_compare=None):
        return original(self, align_outputs(test, ref, rel, abs_tol), ref, skip_compare)

    # nbval has no hook for its comparison: wrap it for this pytest session only
    IPyNbCell.compare_outputs = compare_outputs


def pytest_unconfigure(config):
    original = _original.pop("compare_outputs", None)
    if original is not None:
        from nbval.plugin import IPyNbCell

        IPyNbCell.compare_outputs = original
