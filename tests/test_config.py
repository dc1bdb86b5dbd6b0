"""gateway.toml loading: what `gateway init` writes loads; a bad file is one line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError

GOOD = """
[organization]
name = "Mykolaiv City Council"
edrpou = "04056612"
[server]
port = 8080
[sev]
poll_seconds = 5
[trust]
anchors = "trust"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_values_types_and_relative_paths(tmp_path):
    cfg = load_config(write(tmp_path, GOOD), env={})
    assert cfg.server.port == 8080 and cfg.sev.poll_seconds == 5
    assert cfg.trust.anchors == ["trust"]  # one string is a list of one
    assert cfg.resolve("trust") == tmp_path / "trust"


def test_environment_overrides_the_file(tmp_path):
    env = {"GATEWAY_SERVER__PORT": "9000", "GATEWAY_DEV_PKI__SERVE": "yes"}
    cfg = load_config(write(tmp_path, GOOD), env=env)
    assert cfg.server.port == 9000 and cfg.dev_pki.serve is True


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[server\nport = 1", {}, "invalid TOML"),
        ("[nonsense]\nx = 1", {}, "unknown section [nonsense]"),
        ("[server]\nprot = 1", {}, "unknown setting [server] prot"),
        ('[server]\nport = "eighty"', {}, "[server] port: expected an integer, got 'eighty'"),
        ("[server]\nport = true", {}, "[server] port: expected an integer, got True"),
        ('[dev_pki]\nserve = "yes"', {}, "[dev_pki] serve: expected true/false"),
        ("[trust]\nanchors = [1, 2]", {}, "[trust] anchors: expected a list of strings"),
        ('[trust]\nrevocation = "sometimes"', {}, '[trust] revocation must be "online" or "offline"'),
        ("", {"GATEWAY_SERVER__PORT": "x"}, "GATEWAY_SERVER__PORT: expected an integer, got 'x'"),
        ("", {"GATEWAY_SERVER__NOPE": "1"}, "GATEWAY_SERVER__NOPE: unknown setting [server] nope"),
    ],
)
def test_bad_configuration_is_refused_with_a_reason(tmp_path, text, env, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env=env)
    assert message in str(caught.value)


@pytest.mark.parametrize("command", [["serve"], ["trust", "list"]])
def test_bad_configuration_is_one_line_from_the_cli(tmp_path, command):
    path = write(tmp_path, '[server]\nport = "eighty"\n')
    out = subprocess.run([sys.executable, "-m", "gateway", *command, "--config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.splitlines() == ["gateway: error: [server] port: expected an integer, got 'eighty'"]
    assert out.stdout == ""
