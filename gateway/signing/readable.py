"""The validation report for people and the paper archive: HTML and PDF, Ukrainian or English.

Both renderings start from the report's JSON shape (`ValidationReport.to_dict()`, with `checks`
when it is a detailed report), so a stored report renders the same as a fresh one. The HTML is a
Jinja2 template (`templates/report.html`, autoescaped); the PDF is laid out with fpdf2 in DejaVu
Sans (Debian's fonts-dejavu-core), which has the Cyrillic letters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fpdf import FPDF

LANGS = ("uk", "en")
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))

_LABELS: dict[str, dict[str, str]] = {
    "uk": {
        "title": "Протокол перевірки електронних підписів",
        "verdict": "Результат", "container": "Формат файлу", "validation_time": "Час перевірки",
        "signature": "Підпис", "format": "Формат підпису", "signer": "Підписувач",
        "issuer": "Видавець сертифіката", "serial": "Серійний номер", "edrpou": "ЄДРПОУ", "drfo": "ДРФО",
        "algorithm": "Алгоритми", "claimed_time": "Заявлений час підпису",
        "best_time": "Підпис існував не пізніше", "timestamps": "Позначки часу",
        "chain": "Ланцюжок сертифікатів",
        "revocation": "стан", "valid_until": "чинний до", "objects": "Підписані дані", "errors": "Помилки",
        "warnings": "Попередження", "checks": "Перевірки (ДСТУ ETSI EN 319 102-1)", "intact": "Цілісність",
        "yes": "так", "no": "ні", "reason": "Пояснення", "qualification": "Кваліфікація",
        "counter_signature_of": "Контрпідпис до", "none": "немає",
    },
    "en": {
        "title": "Electronic signature validation report",
        "verdict": "Verdict", "container": "File format", "validation_time": "Validation time",
        "signature": "Signature", "format": "Signature format", "signer": "Signer",
        "issuer": "Certificate issuer", "serial": "Serial number", "edrpou": "EDRPOU", "drfo": "DRFO",
        "algorithm": "Algorithms", "claimed_time": "Claimed signing time",
        "best_time": "The signature existed at", "timestamps": "Time-stamps", "chain": "Certificate chain",
        "revocation": "status", "valid_until": "valid until", "objects": "Signed data", "errors": "Errors",
        "warnings": "Warnings", "checks": "Checks (ETSI EN 319 102-1)", "intact": "Integrity",
        "yes": "yes", "no": "no", "reason": "Explanation", "qualification": "Qualification",
        "counter_signature_of": "Counter-signature of", "none": "none",
    },
}

_VERDICTS: dict[str, dict[str, str]] = {
    "uk": {
        "TOTAL_PASSED": "Підпис дійсний", "TOTAL_FAILED": "Підпис недійсний",
        "INDETERMINATE": "Дійсність не встановлено", "NO_SIGNATURE_FOUND": "Підпису не знайдено",
    },
    "en": {
        "TOTAL_PASSED": "The signature is valid", "TOTAL_FAILED": "The signature is not valid",
        "INDETERMINATE": "Validity could not be established", "NO_SIGNATURE_FOUND": "No signature found",
    },
}

#: sub-indications in plain words
_REASONS: dict[str, dict[str, str]] = {
    "uk": {
        "FORMAT_FAILURE": "файл пошкоджений або не відповідає формату підпису",
        "HASH_FAILURE": "підписані дані змінено після підписання",
        "SIG_CRYPTO_FAILURE": "значення підпису не відповідає ключу підписувача",
        "REVOKED": "сертифікат підписувача скасовано до часу підписання",
        "EXPIRED": "строк дії сертифіката минув до часу підписання",
        "NOT_YET_VALID": "сертифікат ще не набрав чинності на час підписання",
        "SIG_CONSTRAINTS_FAILURE": "підпис не відповідає вимогам політики перевірки",
        "CHAIN_CONSTRAINTS_FAILURE": "ланцюжок сертифікатів не відповідає вимогам",
        "CRYPTO_CONSTRAINTS_FAILURE": "використано недостатньо стійкий алгоритм",
        "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "алгоритм уже не вважається стійким, а доказу існування "
                                             "підпису раніше немає",
        "CERTIFICATE_CHAIN_GENERAL_FAILURE": "ланцюжок сертифікатів не вдалося перевірити",
        "NO_SIGNING_CERTIFICATE_FOUND": "сертифікат підписувача не знайдено",
        "NO_CERTIFICATE_CHAIN_FOUND": "немає ланцюжка до довіреного центру сертифікації",
        "REVOKED_NO_POE": "сертифікат скасовано, а доказу існування підпису до скасування немає",
        "REVOKED_CA_NO_POE": "сертифікат центру скасовано, а доказу існування підпису раніше немає",
        "OUT_OF_BOUNDS_NO_POE": "строк дії сертифіката минув, а доказу існування підпису раніше немає",
        "OUT_OF_BOUNDS_NOT_REVOKED": "строк дії сертифіката минув (не скасований)",
        "REVOCATION_OUT_OF_BOUNDS_NO_POE": "дані про статус сертифіката застарілі",
        "NO_POE": "немає доказу існування підпису на потрібний час",
        "TRY_LATER": "дані про статус сертифіката зараз недоступні: повторіть перевірку пізніше",
        "SIGNED_DATA_NOT_FOUND": "підписані дані не знайдено",
        "TIMESTAMP_ORDER_FAILURE": "позначки часу йдуть у неправильному порядку",
        "POLICY_PROCESSING_ERROR": "політику підпису не вдалося обробити",
        "SIGNATURE_POLICY_NOT_AVAILABLE": "документ політики підпису недоступний",
    },
    "en": {
        "FORMAT_FAILURE": "the file is damaged or not in a signature format",
        "HASH_FAILURE": "the signed data was changed after signing",
        "SIG_CRYPTO_FAILURE": "the signature value does not match the signer's key",
        "REVOKED": "the signer's certificate was revoked before the signing time",
        "EXPIRED": "the signer's certificate had expired at the signing time",
        "NOT_YET_VALID": "the signer's certificate was not yet valid at the signing time",
        "SIG_CONSTRAINTS_FAILURE": "the signature does not meet the validation policy",
        "CHAIN_CONSTRAINTS_FAILURE": "the certificate chain does not meet the policy",
        "CRYPTO_CONSTRAINTS_FAILURE": "an algorithm that is too weak was used",
        "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "the algorithm is no longer considered secure and there is "
                                             "no proof that the signature existed earlier",
        "CERTIFICATE_CHAIN_GENERAL_FAILURE": "the certificate chain could not be validated",
        "NO_SIGNING_CERTIFICATE_FOUND": "the signer's certificate was not found",
        "NO_CERTIFICATE_CHAIN_FOUND": "no chain to a trusted certification authority",
        "REVOKED_NO_POE": "the certificate is revoked and there is no proof the signature existed before",
        "REVOKED_CA_NO_POE": "a CA certificate is revoked and there is no proof the signature existed before",
        "OUT_OF_BOUNDS_NO_POE": "the certificate has expired and there is no proof the signature existed "
                                "before",
        "OUT_OF_BOUNDS_NOT_REVOKED": "the certificate has expired (not revoked)",
        "REVOCATION_OUT_OF_BOUNDS_NO_POE": "the revocation data is out of date",
        "NO_POE": "no proof that the signature existed at the required time",
        "TRY_LATER": "revocation data is not available now: validate again later",
        "SIGNED_DATA_NOT_FOUND": "the signed data was not found",
        "TIMESTAMP_ORDER_FAILURE": "the time-stamps are in the wrong order",
        "POLICY_PROCESSING_ERROR": "the signature policy could not be processed",
        "SIGNATURE_POLICY_NOT_AVAILABLE": "the signature policy document is not available",
    },
}


@dataclass(frozen=True)
class Texts:
    """Everything language-dependent a rendering needs."""

    lang: str

    def label(self, key: str) -> str:
        return _LABELS[self.lang][key]

    def verdict(self, indication: str | None) -> str:
        return _VERDICTS[self.lang].get(indication or "", indication or "")

    def reason(self, subindication: str | None) -> str:
        return _REASONS[self.lang].get(subindication or "", "")


def texts(lang: str) -> Texts:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")
    return Texts(lang)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway.signing", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def render_html(report: dict[str, Any], lang: str = "uk") -> str:
    """A self-contained HTML page (no external assets)."""
    return _ENV.get_template("report.html").render(r=report, t=texts(lang), lang=lang)


def _font_dir() -> Path:
    for folder in FONT_DIRS:
        if (folder / "DejaVuSans.ttf").is_file():
            return folder
    raise FileNotFoundError("DejaVu Sans not found (install Debian's fonts-dejavu-core)")


def _signature_lines(s: dict[str, Any], t: Texts, validation_time: str | None) -> list[tuple[str, str]]:
    signer = s.get("signer") or {}
    best = s.get("best_signature_time")
    rows = [
        (t.label("verdict"), t.verdict(s.get("indication"))
         + (f" ({s['subindication']})" if s.get("subindication") else "")),
        (t.label("reason"), t.reason(s.get("subindication"))),
        (t.label("format"), s.get("format") or ""),
        (t.label("intact"), t.label("yes") if s.get("intact") else t.label("no")),
        (t.label("signer"), signer.get("subject") or ""),
        (t.label("edrpou"), signer.get("edrpou") or ""),
        (t.label("drfo"), signer.get("drfo") or ""),
        (t.label("issuer"), signer.get("issuer") or ""),
        (t.label("serial"), signer.get("serial") or ""),
        (t.label("algorithm"), " / ".join(v for v in (s.get("algorithm") or {}).values() if v)),
        (t.label("claimed_time"), s.get("claimed_signing_time") or ""),
        (t.label("best_time"), best if best and best != validation_time else ""),
        (t.label("qualification"), s.get("qualification") or ""),
        (t.label("counter_signature_of"), s.get("counter_signature_of") or ""),
        (t.label("objects"), ", ".join(s.get("signed_objects") or [])),
    ]
    return [(k, str(v)) for k, v in rows if v]


def render_pdf(report: dict[str, Any], lang: str = "uk") -> bytes:
    """An A4 PDF for the paper archive."""
    t = texts(lang)
    fonts = _font_dir()
    pdf = FPDF(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, 15)
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_title(t.label("title"))
    pdf.add_page()
    width = pdf.epw

    def heading(text: str, size: int) -> None:
        pdf.set_font("DejaVu", "B", size)
        pdf.multi_cell(width, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def row(key: str, value: str) -> None:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(55, 5, key)
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(width - 55, 5, value, align="L", new_x="LMARGIN", new_y="NEXT")

    heading(t.label("title"), 14)
    row(t.label("verdict"), t.verdict(report.get("indication"))
        + (f" ({report['subindication']})" if report.get("subindication") else ""))
    if report.get("subindication"):
        row(t.label("reason"), t.reason(report["subindication"]))
    row(t.label("container"), str(report.get("container") or ""))
    row(t.label("validation_time"), str(report.get("validation_time") or ""))
    for error in report.get("errors") or []:
        row(t.label("errors"), error)
    for n, s in enumerate(report.get("signatures") or [], 1):
        pdf.ln(3)
        heading(f"{t.label('signature')} {n}: {s.get('id') or ''}", 11)
        for key, value in _signature_lines(s, t, report.get("validation_time")):
            row(key, value)
        for ts in s.get("timestamps") or []:
            row(t.label("timestamps"), f"{ts.get('type')}: {ts.get('time')} ({ts.get('tsa') or '?'}), "
                f"{t.label('intact').lower()}: {t.label('yes') if ts.get('intact') else t.label('no')}")
        for c in s.get("chain") or []:
            row(t.label("chain"), f"{c.get('subject')} — {t.label('valid_until')} {c.get('not_after')}, "
                f"{t.label('revocation')}: {c.get('revocation')}")
        for e in s.get("errors") or []:
            row(t.label("errors"), e)
        for w in s.get("warnings") or []:
            row(t.label("warnings"), w)
        if s.get("checks"):
            pdf.ln(2)
            heading(t.label("checks"), 9)
        for check in s.get("checks") or []:
            row(f"{check['block']}", f"{check['name']}: {check['result']}"
                + (f" ({check['subindication']})" if check.get("subindication") else ""))
    return bytes(pdf.output())
