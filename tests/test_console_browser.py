"""The console in a real browser: Debian's headless Chromium driven by Selenium through Debian's
chromedriver (no browser download). An officer logs in, imports a key, adds a trust anchor and a
partner and sees an expiry alert; an auditor cannot change anything; an operator re-queues a
failed letter. Screenshots of the main pages are saved (path printed; $GATEWAY_TEST_ARTEFACTS
chooses the folder)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from console_support import PASSWORD, write_gateway
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_store_support import serve_app

from gateway.config import load_config
from gateway.exchange.outbox import NewFile, queue_letter, set_status
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("GATEWAY_TEST_ARTEFACTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def driver():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--lang=uk"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.implicitly_wait(5)
    yield browser
    browser.quit()


@pytest.fixture
def site(dev_pki, tmp_path):
    """A gateway with a failed letter waiting for an operator; yields (base URL, letter id)."""
    from gateway.api.app import create_app

    path = write_gateway(dev_pki, tmp_path)
    cfg = load_config(path)
    db = open_database(cfg)
    sha, size = BlobStore(cfg.resolve(cfg.storage.dir)).put(b"letter body"), 11
    with db.session() as s:
        meta = {"to_edrpou": "26597691", "reg_number": "01-15/9", "reg_date": "2026-11-29"}
        row, _ = queue_letter(s, meta=meta,
                              files=[NewFile("лист.txt", "text/plain", sha, size)], channel="sev",
                              to_name="Одеська міська рада", api_key_id=None, idempotency_key=None)
        set_status(s, row, "failed", "hub unreachable after 8 attempts")
        row.last_error = "hub unreachable"
        letter = row.id
    db.dispose()
    with serve_app(create_app(cfg, workers=False)) as base:
        yield base.replace("127.0.0.1", "localhost"), letter


def submit(driver, css: str) -> None:
    """Click a form's button and wait until the browser shows the page it answered with."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(page))


def login(driver, base: str, name: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/console")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    submit(driver, "form[action='/console/login'] button")
    assert "Огляд" in driver.find_element(By.TAG_NAME, "h1").text, driver.page_source[:500]


def short_lived_ca(tmp_path: Path, days: int = 30) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Тестовий ЦСК, що скоро спливає")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / "short-ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_officer_imports_key_adds_anchor_and_partner_and_sees_alert(driver, site, dev_pki, tmp_path, shots):
    base, _ = site
    driver.get(f"{base}/console")
    driver.save_screenshot(str(shots / "01-login.png"))
    login(driver, base, "officer")

    driver.get(f"{base}/console/keys")
    driver.find_element(By.ID, "import-label").send_keys("Печатка ECDSA")
    driver.find_element(By.ID, "import-file").send_keys(str(dev_pki.seal_ec_p12))
    driver.find_element(By.ID, "import-password").send_keys(dev_pki.password().decode())
    submit(driver, "form[action='/console/keys/import'] button")
    assert "ключ імпортовано" in driver.page_source
    assert "Печатка ECDSA" in driver.page_source
    submit(driver, "form[action$='/activate'] button")
    assert "печатку змінено" in driver.page_source and "чинна печатка" in driver.page_source
    driver.save_screenshot(str(shots / "02-keys.png"))

    driver.get(f"{base}/console/trust")
    driver.find_element(By.ID, "anchor-file").send_keys(str(short_lived_ca(tmp_path)))
    submit(driver, "form[action='/console/trust/preview'] button")
    assert "перегляд" in driver.find_element(By.TAG_NAME, "h1").text
    driver.save_screenshot(str(shots / "03-trust-preview.png"))
    submit(driver, "form[action='/console/trust/add'] button")
    assert "Тестовий ЦСК" in driver.page_source
    driver.save_screenshot(str(shots / "04-trust.png"))

    driver.get(f"{base}/console/partners")
    driver.find_element(By.ID, "p-edrpou").send_keys("26597691")
    driver.find_element(By.ID, "p-name").send_keys("Одеська міська рада")
    Select(driver.find_element(By.ID, "p-channel")).select_by_value("sev")
    driver.find_element(By.ID, "p-sev").send_keys("ODESA-SEV-1")
    submit(driver, "form[action='/console/partners'] button")
    assert "Одеська міська рада" in driver.find_element(By.TAG_NAME, "table").text
    driver.save_screenshot(str(shots / "05-partners.png"))

    driver.get(f"{base}/console")
    alerts = driver.find_element(By.CSS_SELECTOR, "table.alerts").text
    assert "строк дії кореневого сертифіката спливає" in alerts and "Тестовий ЦСК" in alerts
    assert "невдалі доставлення" in alerts
    driver.save_screenshot(str(shots / "06-overview-alerts.png"))
    driver.get(f"{base}/console/audit")
    assert "Ланцюжок цілісний" in driver.page_source and "trust.add" in driver.page_source
    driver.save_screenshot(str(shots / "07-audit.png"))
    driver.get(f"{base}/console?lang=en")
    assert "Alerts" in driver.page_source
    driver.save_screenshot(str(shots / "08-overview-en.png"))
    driver.get(f"{base}/console?lang=uk")


def test_auditor_cannot_change_anything(driver, site):
    base, letter = site
    login(driver, base, "auditor")
    pages = ("", "/keys", "/trust", "/partners", "/messages", f"/messages/out/{letter}", "/audit", "/users")
    for path in pages:
        driver.get(f"{base}/console{path}")
        forms = driver.find_elements(By.CSS_SELECTOR, "form[method='post']")
        actions = [f.get_attribute("action") for f in forms]
        assert all(a.endswith("/console/logout") for a in actions), (path, actions)
    # a change posted by hand with the auditor's own valid session and CSRF token is refused
    token = driver.find_element(By.CSS_SELECTOR, "input[name='csrf']").get_attribute("value")
    driver.execute_script(
        "const f=document.createElement('form');f.method='post';f.action='/console/partners';"
        "for (const [k,v] of [['csrf',arguments[0]],['edrpou','26597691'],['name','X']]){"
        "const i=document.createElement('input');i.name=k;i.value=v;f.appendChild(i);}"
        "document.body.appendChild(f);f.submit();", token)
    WebDriverWait(driver, 15).until(lambda d: "Ваша роль" in d.page_source)
    assert "Ваша роль не дозволяє" in driver.page_source


def test_operator_requeues_a_failed_letter(driver, site, shots):
    base, letter = site
    login(driver, base, "operator")
    driver.get(f"{base}/console/messages?status=failed")
    driver.save_screenshot(str(shots / "09-messages.png"))
    submit(driver, f"a[href='/console/messages/out/{letter}']")
    assert "не доставлено" in driver.page_source
    submit(driver, "form[action$='/requeue'] button")
    assert "повернуто в чергу" in driver.page_source
    status = driver.find_element(By.CSS_SELECTOR, "dl.facts dd strong").text
    assert status == "у черзі", status
    assert "re-queued by user:operator" in driver.find_element(By.CSS_SELECTOR, "ol.history").text
    driver.save_screenshot(str(shots / "10-letter-requeued.png"))


def test_operator_reads_the_validation_report_of_a_received_document(driver, dev_pki, tmp_path, shots):
    """The report page keeps its own styles under the console's Content-Security-Policy."""
    from test_console_leftovers import receive_signed_document

    from gateway.api.app import create_app

    cfg = load_config(write_gateway(dev_pki, tmp_path))
    incoming = receive_signed_document(cfg)
    with serve_app(create_app(cfg, workers=False)) as base:
        base = base.replace("127.0.0.1", "localhost")
        login(driver, base, "operator")
        driver.get(f"{base}/console/messages/in/{incoming}")
        submit(driver, f"a[href='/console/messages/in/{incoming}/report']")
        verdict = driver.find_element(By.CSS_SELECTOR, "td.TOTAL_FAILED")
        assert verdict.text.startswith("Підпис недійсний"), verdict.text
        assert verdict.value_of_css_property("color") in ("rgba(176, 0, 32, 1)", "rgb(176, 0, 32)")
        driver.save_screenshot(str(shots / "11-validation-report.png"))
