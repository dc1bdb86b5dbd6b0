"""`make demo` (scripts/demo.py) runs to the end: letters over the SEV hub, then one over Трембіта
between the two gateways whose acknowledgements come back, within a bounded time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "scripts" / "demo.py"


@pytest.mark.slow
def test_make_demo_shows_a_letter_over_trembita_and_its_acknowledgements(tmp_path):
    run = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "Traceback" not in run.stderr
    assert "letter 01-17/101 → 37472062 over sev: registered" in out
    assert "letter 01-17/102 → 37472062 over sev: rejected" in out
    assert "B received 01-17/103 over trembita: seal check TOTAL_PASSED" in out
    trembita = out[out.index("letter 01-17/103 → 37472062 over trembita: registered") :]
    statuses = re.findall(r"^\s+[\d:.]+\s+(\w+)\s", trembita, flags=re.MULTILINE)
    assert statuses[:3] == ["queued", "signed", "sending"] and statuses[-1] == "registered"
    assert "acknowledgements received: delivered, accepted, registered" in trembita
    assert "A's Трембіта channel: ok" in trembita
