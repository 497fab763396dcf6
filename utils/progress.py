"""Progress bars for long loops (tqdm), quiet for loops too short to need one.

XAI_PROGRESS=0 silences all bars. XAI_PROGRESS=static prints one line when a loop ends
("occlusion: 16/16") instead of a live bar: a bar saved in a notebook file only ever shows its
first frame ("0%"), so the solved notebooks are built and checked with this setting. A static
loop that runs inside another static loop prints nothing: the outer loop's line stands for it
(a notebook cell shows "summaries: 25/25", not 25 lines of each summary's inner loop).
"""
import os

from tqdm.auto import tqdm


_running = 0     # static loops now iterating (a generator's body runs at its first next())


def _static(iterable, desc: str, total: int | None):
    global _running
    inner, n = _running > 0, 0
    _running += 1
    try:
        for item in iterable:
            yield item
            n += 1
    finally:
        _running -= 1
        if not inner:
            print(f"{desc}: {n}/{total if total is not None else n}")


def progress(iterable, desc: str, total: int | None = None, min_steps: int = 8):
    """tqdm over `iterable` when it has at least `min_steps` steps (see the module docstring)."""
    if total is None:
        total = len(iterable) if hasattr(iterable, "__len__") else None
    mode = os.environ.get("XAI_PROGRESS", "1")
    quiet = mode == "0" or (total is not None and total < min_steps)
    if mode == "static" and not quiet:
        return _static(iterable, desc, total)
    return tqdm(iterable, desc=desc, total=total, disable=quiet, leave=False)
