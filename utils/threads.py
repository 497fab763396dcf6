"""Keep torch's thread count where the course set it.

Some libraries change it as a side effect: fitting UMAP (numba, pynndescent) left torch on 2
threads on a 2-core machine although OMP_NUM_THREADS=1 asked for one, and sums split over
more threads may round differently, so the same logits would no longer be bit-identical.

    with torch_threads_kept():
        reducer.fit_transform(x)       # torch.get_num_threads() is as before, errors too
"""
from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def torch_threads_kept():
    """Inside the block anything may change torch's thread count; on exit it is put back."""
    found = torch.get_num_threads()
    try:
        yield found
    finally:
        if torch.get_num_threads() != found:
            torch.set_num_threads(found)
