"""`gateway sev-hub` as a user runs it: prints its URL, serves the WSDL and the service, stops cleanly."""

from __future__ import annotations

import subprocess
import sys

import httpx

from gateway.soap.sev_client import MessageInfo, SevClient


def test_sev_hub_command_serves_the_integration_service(tmp_path):
    systems = tmp_path / "systems.toml"
    systems.write_text(
        '[[system]]\nid = "a"\npassword = "pa"\norg_id = "04056612"\n'
        '[[system]]\nid = "b"\npassword = "pb"\norg_id = "37472062"\n',
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "sev-hub",
            "--listen",
            "127.0.0.1:0",
            "--data",
            str(tmp_path / "data"),
            "--systems",
            str(systems),
            "--max-part-size",
            "4096",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "registered 2 system(s)" in proc.stdout.readline()
        banner = proc.stdout.readline()
        url = banner.split()[3]
        assert url.startswith("http://127.0.0.1:") and url.endswith(
            "/csp/dirbus/bus.esb.IntegrationService.cls"
        )
        assert "<definitions" in httpx.get(url + "?wsdl").text
        SevClient(url, "a", "pa").send(
            b"<Header>" + b"x" * 10_000 + b"</Header>", MessageInfo("cli-1", "04056612", "37472062")
        )
        b = SevClient(url, "b", "pb")
        assert [m.message_id for m in b.list_incoming()] == ["cli-1"]
        assert len(b.download("cli-1").data) == 10_017
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err


def test_bad_listen_address_is_one_line():
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "sev-hub", "--listen", "nowhere"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == "gateway: error: --listen must be HOST:PORT, got 'nowhere'"
