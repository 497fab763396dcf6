"""The machine a benchmark ran on, wall-clock timing and the peak memory of one call (Linux)."""
from __future__ import annotations

import os
import platform
import re
import statistics
import time
from datetime import datetime, timezone

from utils.setup import package_version


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
        return round(kib / 2**20, 1)
    except (OSError, AttributeError):
        return None


def machine_info() -> dict:
    """CPU model, cores, RAM, load, versions: stored beside every figure."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    info = {
        "cpu": _cpu_model(), "cores": cores, "torch_threads": torch.get_num_threads(),
        "ram_gib": _ram_gib(), "load_1min_at_start": None if load is None else round(load, 2),
        "torch": torch.__version__, "transformers": package_version("transformers"),
        "lxt": package_version("lxt"), "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }
    return info


def machine_line(info: dict) -> str:
    """One line for a table caption: 'AMD EPYC, 2 cores, 23.4 GiB RAM, torch 2.13.0'."""
    threads = info["torch_threads"]
    parts = [info["cpu"], f"{info['cores']} cores ({threads} torch thread{'s' * (threads != 1)})",
             f"{info['ram_gib']} GiB RAM", f"torch {info['torch'].split('+')[0]}"]
    if info.get("gpu"):
        parts.append(info["gpu"])
    if info.get("load_1min_at_start") is not None:
        parts.append(f"load {info['load_1min_at_start']} at start")
    return ", ".join(parts)


def timed(fn, min_total_s: float = 2.0, max_repeats: int = 30) -> tuple[float, object]:
    """(median seconds of `fn()`, its last result): repeats until `min_total_s` or `max_repeats`.

    One warm-up call first is left to the caller where it matters (first calls allocate).
    """
    times, result = [], None
    while True:
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if sum(times) >= min_total_s or len(times) >= max_repeats:
            return statistics.median(times), result


def _status_kib(field: str) -> int | None:
    try:
        match = re.search(rf"{field}:\s+(\d+) kB", open("/proc/self/status").read())
        return int(match.group(1)) if match else None
    except OSError:
        return None


def peak_extra_memory(fn) -> tuple[float | None, object]:
    """(peak resident memory added while `fn()` ran, in GiB, its result).

    Linux only: resets the process's high-water mark (write 5 to /proc/self/clear_refs), runs
    `fn`, and compares the new high-water mark with the resident size before. None elsewhere.
    """
    import gc

    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None, fn()
    before = _status_kib("VmRSS")
    result = fn()
    peak = _status_kib("VmHWM")
    if before is None or peak is None:
        return None, result
    return round((peak - before) / 2**20, 4), result
