"""Ukrainian cryptography (pure Python): DSTU 4145 verification and GOST 34.311 hashing.

- verify one DSTU 4145 signature on the m = 257 curve (the curve of real qualified certificates),
  base-point table already built (it is built once per process and curve): goal <= 20 ms, a defect
  above 100 ms;
- GOST 34.311-95 and Kupyna-256 of 1 MiB, against SHA-256 of the same MiB in the same run.
Times are the median wall time and, in brackets, the process CPU time (the difference is other load).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time

MIB = 1024 * 1024
VERIFY_GOAL_MS = 20.0
VERIFY_DEFECT_MS = 100.0


def _time(fn, rounds: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def run() -> list[str]:
    from gateway.crypto.ua import dstu4145
    from gateway.crypto.ua.curves import curve_by_m
    from gateway.crypto.ua.gost34311 import gost34311
    from gateway.crypto.ua.kupyna import Kupyna

    lines = []
    curve = curve_by_m(257)
    started = time.perf_counter()
    curve.mul_base(1)  # builds the fixed-base table
    elapsed = time.perf_counter() - started
    lines.append(f"m=257 base-point table (once per process): {elapsed * 1000:.0f} ms")
    key = dstu4145.generate_private_key(curve)
    public = key.public_key()
    digest = os.urandom(32)
    r, s = key.sign(digest)
    assert public.verify(digest, r, s)  # noqa: S101 - a benchmark of a broken verify is worthless
    wall, cpu = _time(lambda: public.verify(digest, r, s), 15)
    ms = cpu * 1000  # the goal is per core: judged on the process CPU time, immune to other load
    verdict = "OK" if ms <= VERIFY_GOAL_MS else ("DEFECT" if ms > VERIFY_DEFECT_MS else "OVER GOAL")
    lines.append(f"DSTU 4145 verify, m=257: {wall * 1000:.1f} ms ({ms:.1f} ms CPU), "
                 f"goal {VERIFY_GOAL_MS:.0f} ms CPU {verdict}")
    wall, cpu = _time(lambda: key.sign(digest), 15)
    lines.append(f"DSTU 4145 sign, m=257: {wall * 1000:.1f} ms ({cpu * 1000:.1f} ms CPU)")

    data = os.urandom(MIB)
    sha_wall, sha_cpu = _time(lambda: hashlib.sha256(data).digest(), 5)
    lines.append(f"SHA-256, 1 MiB: {sha_wall * 1000:.2f} ms ({sha_cpu * 1000:.2f} ms CPU)")
    gost_wall, gost_cpu = _time(lambda: gost34311(data).digest(), 1)
    lines.append(f"GOST 34.311-95, 1 MiB: {gost_wall * 1000:.0f} ms ({gost_cpu * 1000:.0f} ms CPU), "
                 f"{gost_wall / sha_wall:.0f}x SHA-256")
    k_wall, k_cpu = _time(lambda: Kupyna(256, data).digest(), 1)
    lines.append(f"Kupyna-256, 1 MiB: {k_wall * 1000:.0f} ms ({k_cpu * 1000:.0f} ms CPU), "
                 f"{k_wall / sha_wall:.0f}x SHA-256")
    return lines
