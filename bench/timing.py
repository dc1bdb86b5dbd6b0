"""Timing shared by the benchmarks: functions run in alternation, so machine noise hits all alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


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
