"""Every signature format, signed and validated at 10 KiB / 1 MiB / 100 MiB (no network: B-B, an
RSA-2048 PKCS#12 seal generated in a temporary folder; validation offline, integrity checked).

- time and ratio to the raw-crypto floor (SHA-256 of the document + one RSA-2048 signature) of the
  same size, measured in the same run; the small sizes in this process (interleaved rounds), 100 MiB
  once per format and operation in a fresh process, which also gives the peak RSS (VmHWM; goal
  < 200 MiB per process for a 100 MiB letter);
- throughput at 1 MiB with 1 and 2 worker processes (the 2 cores);
- ASiC-E with 1, 2, 4, 8 signatures: the cost of adding the n-th one and of validating them all.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import workload
from report import QUICK, Panel, Section, table
from timing import interleaved_samples

KIB, MIB = 1024, 1024 * 1024
BIG = 16 * MIB if QUICK else 100 * MIB
SMALL = {10 * KIB: 3 if QUICK else 20, MIB: 2 if QUICK else 8}  # size -> rounds
SIZES = [*SMALL, BIG]
RSS_GOAL_MIB = 200
THROUGHPUT_SECONDS = 1.0 if QUICK else 2.5
SIGNATURE_COUNTS = [1, 2, 4] if QUICK else [1, 2, 4, 8]
CONTAINER_ROUNDS = 1 if QUICK else 3
#: inputs and outputs live in memory (tmpfs), so that the shared disk's fsync times stay out
MEMORY_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB else f"{n // KIB} KiB"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}" if seconds < 10 else f"{seconds * 1000:.0f}"


def _small(key, folder: Path, size: int, rounds: int) -> dict[str, float]:
    """Median seconds of 'floor', '<fmt> sign' and '<fmt> validate' at one size, interleaved."""
    names, fns = ["floor"], [lambda: workload.floor_sign(key, workload.make_input(folder, "cades", size))]
    for fmt in workload.FORMATS:
        src = workload.make_input(folder, fmt, size)
        out = workload.signed_path(fmt, src)
        workload.sign(key, fmt, src, out)
        workload.check(fmt, out, src)
        names += [f"{fmt} sign", f"{fmt} validate"]
        fns += [lambda fmt=fmt, src=src, out=out: workload.sign(key, fmt, src, out),
                lambda fmt=fmt, src=src, out=out: workload.check(fmt, out, src)]
    samples = interleaved_samples(fns, rounds)
    return {name: statistics.median(s) for name, s in zip(names, samples, strict=True)}


def _disk_cost(key, folder: Path, on_disk: Path) -> tuple[float, float]:
    """CAdES detached over 1 MiB into the memory folder and into a folder on disk (median seconds)."""
    src = workload.make_input(folder, "cades", MIB)
    fns = [partial(workload.sign, key, "cades", src, folder / "mem.p7s"),
           partial(workload.sign, key, "cades", src, on_disk / "disk.p7s")]
    memory, disk = interleaved_samples(fns, 3 if QUICK else 10)
    return statistics.median(memory), statistics.median(disk)


def _child(op: str, fmt: str, p12: Path, src: Path, out: Path) -> dict[str, float]:
    args = [sys.executable, str(Path(workload.__file__)), op, fmt, str(p12), str(src), str(out)]
    run = subprocess.run(args, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"{op} {fmt} at {_size(src.stat().st_size)}: {run.stderr.strip()[-500:]}")
    return json.loads(run.stdout)


def _big(p12: Path, folder: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds and peak RSS (KiB) of each operation on a BIG document, each in a fresh process."""
    seconds: dict[str, float] = {}
    rss: dict[str, float] = {}
    src = workload.make_input(folder, "cades", BIG)
    floor = [_child("floor", "cades", p12, src, src) for _ in range(3)]
    seconds["floor"] = min(f["seconds"] for f in floor)
    rss["floor"] = min(f["peak_rss_kib"] for f in floor)
    for fmt in workload.FORMATS:
        src = workload.make_input(folder, fmt, BIG)
        out = workload.signed_path(fmt, src)
        for op in ("sign", "validate"):
            result = _child(op, fmt, p12, src, out)
            seconds[f"{fmt} {op}"] = result["seconds"]
            rss[f"{fmt} {op}"] = result["peak_rss_kib"]
        out.unlink()
        if fmt == "pades":
            src.unlink()
    return seconds, rss


def _throughput(p12: Path, folder: Path) -> dict[str, tuple[float, float]]:
    """Operations per second at 1 MiB with 1 and with 2 worker processes, per format and operation."""
    out: dict[str, tuple[float, float]] = {}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        for fmt in workload.FORMATS:
            src = workload.make_input(folder, fmt, MIB)
            for op in ("sign", "validate"):
                job = (op, fmt, str(p12), str(src), THROUGHPUT_SECONDS)
                ((_, one),) = pool.map(workload.loop, [job], chunksize=1)
                two = pool.map(workload.loop, [job, job], chunksize=1)
                if len({pid for pid, _ in two}) != 2:
                    raise RuntimeError("the two throughput jobs ran in one process")
                out[f"{fmt} {op}"] = (one / THROUGHPUT_SECONDS, sum(n for _, n in two) / THROUGHPUT_SECONDS)
    return out


def _median_of(fn, rounds: int) -> float:
    (samples,) = interleaved_samples([fn], rounds)
    return statistics.median(samples)


def _containers(key, folder: Path) -> dict[str, list[tuple[int, float, float]]]:
    """Per ASiC-E kind: (n, seconds to add the n-th signature, seconds to validate n signatures)."""
    src = workload.make_input(folder, "cades", MIB)
    result: dict[str, list[tuple[int, float, float]]] = {}
    for fmt in ("asice-cades", "asice-xades"):
        rows = []
        previous: Path | None = None
        for n in range(1, max(SIGNATURE_COUNTS) + 1):
            out = workload.signed_path(fmt, src, tag=f"-{n}")
            add = _median_of(partial(workload.sign, key, fmt, src, out, previous), CONTAINER_ROUNDS)
            check = _median_of(partial(workload.check, fmt, out, src, n), CONTAINER_ROUNDS)
            if n in SIGNATURE_COUNTS:
                rows.append((n, add, check))
            previous = out
        result[fmt] = rows
    return result


def _x(t: float, floor: float) -> str:
    return f"{_ms(t)} ms = {t / floor:.1f}x"


def _ratio_table(times: dict[int, dict[str, float]], op: str) -> str:
    rows = []
    for fmt, label in workload.LABELS.items():
        cells = [label]
        for size in SIZES:
            t = times[size][f"{fmt} {op}"]
            cells.append(_x(t, times[size]["floor"]))
        rows.append(cells)
    rows.append(["floor"] + [f"{_ms(times[s]['floor'])} ms" for s in SIZES])
    return table(["format, " + op] + [_size(s) for s in SIZES], rows)


def _size_panel(title: str, times: dict[int, dict[str, float]], op: str) -> Panel:
    series = {label: [(s, times[s][f"{f} {op}"]) for s in SIZES] for f, label in workload.LABELS.items()}
    series["floor"] = [(s, times[s]["floor"]) for s in SIZES]
    return Panel(title, "document size (bytes)", "seconds", series, logx=True, logy=True)


def run() -> Section:
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gw-bench-formats-", dir=MEMORY_DIR) as tmp, \
            tempfile.TemporaryDirectory(prefix="gw-bench-disk-") as on_disk:
        folder = Path(tmp)
        p12 = workload.make_p12(folder)
        key = workload.load_key(p12)
        times = {size: _small(key, folder, size, rounds) for size, rounds in SMALL.items()}
        disk = _disk_cost(key, folder, Path(on_disk))
        times[BIG], rss = _big(p12, folder)
        throughput = _throughput(p12, folder)
        containers = _containers(key, folder)

    for size in SIZES:
        floor = times[size]["floor"]
        lines.append(f"{_size(size)}: floor {_ms(floor)} ms")
        for fmt, label in workload.LABELS.items():
            s, v = times[size][f"{fmt} sign"], times[size][f"{fmt} validate"]
            lines.append(f"  {label}: sign {_x(s, floor)}, validate {_x(v, floor)}")
    lines.append(f"CAdES detached 1 MiB into {MEMORY_DIR}: {_ms(disk[0])} ms; into a folder on disk "
                 f"(fsync): {_ms(disk[1])} ms")
    base = rss["floor"] / 1024
    over = []
    rss_rows = []
    for fmt, label in workload.LABELS.items():
        cells = [label]
        for op in ("sign", "validate"):
            mib = rss[f"{fmt} {op}"] / 1024
            verdict = "ok" if mib < RSS_GOAL_MIB else "OVER"
            if mib >= RSS_GOAL_MIB:
                over.append(f"{label} {op}")
            cells.append(f"{mib:.0f} MiB {verdict}")
        rss_rows.append(cells)
    lines.append(f"{_size(BIG)} peak RSS per process (goal < {RSS_GOAL_MIB} MiB; "
                 f"the process alone: {base:.0f} MiB): "
                 + ("all within" if not over else "over the goal: " + ", ".join(over)))
    for fmt, label in workload.LABELS.items():
        s1, s2 = throughput[f"{fmt} sign"]
        v1, v2 = throughput[f"{fmt} validate"]
        lines.append(f"throughput 1 MiB {label}: sign {s1:.1f}/s (1 process) {s2:.1f}/s (2), "
                     f"validate {v1:.1f}/s (1) {v2:.1f}/s (2)")
    for fmt, rows in containers.items():
        lines.append(f"{workload.LABELS[fmt]} over 1 MiB, n signatures: " + "; ".join(
            f"n={n}: add {_ms(a)} ms, validate {_ms(v)} ms" for n, a, v in rows))

    floor_1m = times[MIB]["floor"]
    md = [
        "Each format through `gateway sign --format F` (file to file) and the validation engine (offline, "
        "no trust anchors: signature integrity; chains and revocation are the `validation` module's "
        f"subject). {_size(BIG)} in a fresh process per operation (one run, not a median). Files are in "
        f"{MEMORY_DIR or 'the temporary folder'}, so the output's fsync'd atomic write costs no disk time: "
        f"on this machine's disk it adds {(disk[1] - disk[0]) * 1000:.1f} ms to a CAdES detached signature "
        f"over 1 MiB ({_ms(disk[1])} ms instead of {_ms(disk[0])} ms).\n",
        "### Signing: time and ratio to the floor\n", _ratio_table(times, "sign"),
        "### Validation: time and ratio to the floor\n", _ratio_table(times, "validate"),
        f"### Peak memory with a {_size(BIG)} document\n",
        "Peak RSS (VmHWM) of a fresh process that loads the key and does one operation. A process "
        f"that only imports the gateway and computes the floor peaks at {base:.0f} MiB. "
        f"Goal: < {RSS_GOAL_MIB} MiB.\n",
        table(["format", "sign", "validate"], rss_rows),
        "### Throughput on the 2 cores, 1 MiB documents\n",
        f"Operations per second of 1 and of 2 worker processes, each repeating the operation for "
        f"{THROUGHPUT_SECONDS:g} s (key loaded once per process). Where 2 processes do no more than 1, "
        "the second core was busy with other work (see the load average above).\n",
        table(["format", "sign, 1 process", "sign, 2", "validate, 1 process", "validate, 2"],
              [[label, *(f"{x:.1f}/s" for x in (*throughput[f"{fmt} sign"], *throughput[f"{fmt} validate"]))]
               for fmt, label in workload.LABELS.items()]),
        "### Signatures in one ASiC-E container (1 MiB data file)\n",
        "Adding the n-th signature rewrites the container; validating checks all n.\n",
        table(["n", *(f"{workload.LABELS[f]}: add n-th" for f in containers),
               *(f"{workload.LABELS[f]}: validate all" for f in containers)],
              [[str(n), *(_x(containers[f][i][1], floor_1m) for f in containers),
                *(_x(containers[f][i][2], floor_1m) for f in containers)]
               for i, n in enumerate(SIGNATURE_COUNTS)]),
    ]
    panels = [
        _size_panel("Signing time vs document size", times, "sign"),
        _size_panel("Validation time vs document size", times, "validate"),
        Panel("ASiC-E over 1 MiB: cost vs number of signatures", "signatures in the container", "ms",
              {f"{workload.LABELS[f]} {what}": [(r[0], r[k] * 1000) for r in rows]
               for f, rows in containers.items() for k, what in ((1, "add n-th"), (2, "validate all"))}),
    ]
    worst = max((k for k in rss if k != "floor"), key=rss.__getitem__)
    goal = [f"{_size(BIG)} letters: peak RSS < {RSS_GOAL_MIB} MiB per process",
            f"highest {rss[worst] / 1024:.0f} MiB ({worst}); a process that only hashes: {base:.0f} MiB",
            "met" if not over else "NOT met by " + ", ".join(over)]
    return Section(lines, "\n".join(md), panels, [goal])


if __name__ == "__main__":
    print("\n".join(run().lines))
