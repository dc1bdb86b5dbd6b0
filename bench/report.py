"""The benchmark document: docs/benchmarks.md and its plot, from what the `bench_*.py` modules return.

A module's `run()` returns either the lines it prints, or a `Section`: the printed lines plus the
document's text for its part (tables) and the plot panels it contributes.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
QUICK_NOTE = "QUICK run (`make bench QUICK=1`): small sizes and few rounds, not for quoting. "


@dataclass
class Panel:
    """One plot: a line per series, points (x, y)."""

    title: str
    xlabel: str
    ylabel: str
    series: dict[str, list[tuple[float, float]]]
    logx: bool = False
    logy: bool = False


@dataclass
class Section:
    lines: list[str]
    markdown: str = ""
    panels: list[Panel] = field(default_factory=list)
    #: rows of the document's goals table: goal, what was measured, verdict
    goals: list[list[str]] = field(default_factory=list)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """Where and when: CPU, cores, memory, load (other work present), Python."""
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg()
    return (f"{_cpu_model()}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, "
            f"Python {sys.version.split()[0]}; load average at the start {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} (1/5/15 min)")


def write_plot(path: Path, panels: list[Panel]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 2
    rows = max(1, (len(panels) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 4.2 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for label, points in panel.series.items():
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=label)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        if panel.logx:
            ax.set_xscale("log")
        if panel.logy:
            ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_document(folder: Path, results: dict[str, Section], started: datetime, machine_line: str,
                   seconds: float, failed: list[str]) -> Path:
    """docs/benchmarks.md (and benchmarks.png next to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = folder / "benchmarks.md"
    panels = [p for s in results.values() for p in s.panels]
    parts = [
        "# Benchmarks\n",
        "Written by `make bench` (bench/run.py); do not edit by hand. "
        f"{QUICK_NOTE if QUICK else ''}"
        f"Run {started:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} min, on: {machine_line}.\n",
        "Times are medians of interleaved rounds (bench/timing.py: each function in turn, so machine "
        "noise hits all alike) unless a line says otherwise. A ratio is the time over the raw-crypto floor "
        "measured in the same run: what any implementation must spend (SHA-256 of the document + one "
        "RSA-2048 signature with an already-loaded key).\n",
    ]
    if os.cpu_count() and os.getloadavg()[0] > os.cpu_count():
        parts.append("**Other load was present** (the machine is shared): the load average was above the "
                     "number of cores. Ratios (both sides measured together) suffer least; absolute rates "
                     "and latencies are lower bounds of what the machine does alone.\n")
    if failed:
        parts.append("**Failed modules** (see the console output): " + ", ".join(failed) + "\n")
    goals = [row for s in results.values() for row in s.goals]
    if goals:
        parts.append("## Goals\n")
        parts.append(table(["goal", "measured", "verdict"], goals))
    if panels:
        parts.append("![benchmarks](benchmarks.png)\n")
        write_plot(folder / "benchmarks.png", panels)
    for name, section in results.items():
        parts.append(f"## {name}\n")
        if section.markdown:
            parts.append(section.markdown)
        parts.append("Printed by `make bench`:\n\n```\n" + "\n".join(section.lines) + "\n```\n")
    doc.write_text("\n".join(parts), encoding="utf-8")
    return doc


def now() -> datetime:
    return datetime.now(UTC)
