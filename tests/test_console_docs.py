"""/docs works without internet: the page and the Swagger UI assets come from the gateway, the
person enters the API key in the page, and `metadata` of POST /api/v1/outgoing is described field
by field. Checked in Debian's headless Chromium, with every request to another host counted."""

from __future__ import annotations

import re

import httpx
import pytest
from console_support import write_gateway
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from test_console_browser import driver  # noqa: F401 - the shared browser fixture
from test_store_support import serve_app

from gateway.config import load_config
from gateway.store.apikeys import create_key
from gateway.store.db import open_database


@pytest.fixture
def docs_site(dev_pki, tmp_path):
    from gateway.api.app import create_app

    cfg = load_config(write_gateway(dev_pki, tmp_path))
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    with serve_app(create_app(cfg, workers=False)) as base:
        yield base.replace("127.0.0.1", "localhost"), key


def test_docs_page_and_assets_are_served_locally(docs_site):
    base, key = docs_site
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert refs and all(r.startswith("/docs/assets/") for r in refs), refs
        for ref in refs:
            assert client.get(ref).status_code == 200, ref
        assert client.get("/openapi.json").status_code == 401
        spec = client.get("/openapi.json", headers={"Authorization": f"Bearer {key}"}).json()
    body = spec["paths"]["/api/v1/outgoing"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["encoding"]["metadata"]["contentType"] == "application/json"
    form = spec["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[-1]]
    described = form["properties"]["metadata"]["contentSchema"]
    assert described == {"$ref": "#/components/schemas/OutgoingMetadata"}
    meta = spec["components"]["schemas"]["OutgoingMetadata"]
    for field in ("to_edrpou", "to_name", "reg_number", "reg_date", "kind", "title", "annotation",
                  "purpose_type", "urgent", "confidential", "author", "writer", "reply_to", "channel"):
        assert meta["properties"][field].get("description"), field
    assert set(meta["required"]) >= {"to_edrpou", "reg_number", "reg_date"}
    assert spec["components"]["schemas"]["Person"]["properties"]["name"]["description"]


def test_a_person_enters_the_key_and_tries_a_call(driver, docs_site):  # noqa: F811
    base, key = docs_site
    driver.get(f"{base}/docs")
    driver.find_element(By.ID, "api-key").send_keys("gwk_wrong")
    driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
    WebDriverWait(driver, 15).until(lambda d: "not valid" in d.find_element(By.ID, "key-error").text)
    field = driver.find_element(By.ID, "api-key")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
    WebDriverWait(driver, 20).until(
        lambda d: "/api/v1/outgoing" in d.find_element(By.ID, "swagger-ui").text)
    # open GET /api/v1/outgoing, try it out: Swagger UI sends the key it was given
    operation = "#operations-outgoing-list_outgoing_api_v1_outgoing_get button"
    driver.find_element(By.CSS_SELECTOR, operation).click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    driver.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    driver.find_element(By.CSS_SELECTOR, ".execute").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".live-responses-table"))
    answer = driver.find_element(By.CSS_SELECTOR, ".live-responses-table").text
    assert "200" in answer and '"items"' in answer
    external = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(u => !u.startsWith(location.origin))")
    assert external == [], external
