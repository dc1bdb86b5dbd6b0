"""Timing shared by the benchmarks: functions run in alternation, so machine noise hits all alike."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def interleaved_samples(fns: Sequence[Callable[[], object]], rounds: int) -> list[list[float]]:
    """Seconds per call of each function over `rounds` alternations, after one warm-up call each
    (caches, key templates, page cache)."""
    for fn in fns:
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            samples[i].append(time.perf_counter() - start)
    return samples


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (another one, from /proc) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
