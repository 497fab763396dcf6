"""Progress bars for long loops (tqdm), quiet for loops too short to need one."""
import os

from tqdm.auto import tqdm


def progress(iterable, desc: str, total: int | None = None, min_steps: int = 8):
    """tqdm over `iterable` when it has at least `min_steps` steps; XAI_PROGRESS=0 silences all."""
    if total is None:
        total = len(iterable) if hasattr(iterable, "__len__") else None
    quiet = os.environ.get("XAI_PROGRESS", "1") == "0" or (total is not None and total < min_steps)
    return tqdm(iterable, desc=desc, total=total, disable=quiet, leave=False)
