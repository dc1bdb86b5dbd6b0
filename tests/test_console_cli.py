"""The officers' command line: every option of the console's command groups is described in
--help (`gateway partners --help` among them), and trust changes from the CLI are audited."""

from __future__ import annotations

import argparse

import pytest
from console_support import write_gateway

from gateway.cli import build_parser, main
from gateway.signing.certificates import load_certificates

GROUPS = ("partners", "keys", "user", "audit", "apikey")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@pytest.mark.parametrize("group", GROUPS)
def test_every_option_is_described(group, capsys):
    parser = _subparsers(build_parser())[group]
    actions = _subparsers(parser)
    assert actions, group
    for name, sub in actions.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                where = f"gateway {group} {name} {action.dest}"
                assert action.help and action.help != argparse.SUPPRESS, where
    with pytest.raises(SystemExit):
        main([group, "--help"])
    assert "ACTION" in capsys.readouterr().out


def test_cli_trust_changes_are_audited(dev_pki, tmp_path, capsys):
    path = write_gateway(dev_pki, tmp_path)
    assert main(["trust", "add", str(dev_pki.ca_cert), "--config", str(path)]) == 0
    fingerprint = load_certificates(dev_pki.ca_cert)[0].sha256.hex().upper()
    assert main(["trust", "remove", fingerprint[:16], "--config", str(path)]) == 0
    capsys.readouterr()
    assert main(["audit", "list", "--action", "trust.", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\ttrust.add\ttrust\t" in out and "\ttrust.remove\ttrust\t" in out
    assert out.splitlines()[0].split("\t")[2].startswith("cli:")
