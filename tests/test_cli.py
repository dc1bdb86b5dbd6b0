"""The command line never shows a traceback: usage errors and failures are one line, exit 2."""

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    assert "COMMAND" in out.stdout


def test_unknown_command_is_a_usage_error():
    out = run("no-such-command")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "error" in out.stderr


def test_missing_config_is_one_line(tmp_path):
    out = run("trust", "list", "--config", str(tmp_path / "absent.toml"))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "not found" in out.stderr
