"""The Hundesteuerbescheid renders as a tagged PDF/A-3a with embedded case data."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from services.documents.render import (
    chip_grouped,
    date_de,
    iban_grouped,
    iban_masked,
    money_de,
    percent_de,
    render_html,
    render_pdf,
    tidy_block_whitespace,
)
from services.procedures.dog_tax import RateTable, assess

HERZBERG_RATES = {
    year: RateTable.from_dict(
        {
            "year": year,
            "model": "by_count",
            "rates": ["36.00", "48.00", "60.00"],
            "dangerous_rate": "180.00",
            "due_dates": [[2, 15], [5, 15], [8, 15], [11, 15]],
        }
    )
    for year in (2025, 2026, 2027)
}


def sample_context(
    *,
    intake: date = date(2026, 5, 14),
    notice: date = date(2026, 6, 9),
    method: str = "direct_debit",
    dangerous: bool = False,
    reduction: dict | None = None,
) -> dict:
    """A realistic context in the shape the web app builds (domain example 1)."""
    reduction = reduction or {
        "requested": False,
        "reason_label": None,
        "granted": False,
        "percent": Decimal(0),
    }
    assessment = assess(
        HERZBERG_RATES,
        intake_date=intake,
        notice_date=notice,
        dangerous=dangerous,
        reduction_percent=reduction["percent"] if reduction["granted"] else Decimal(0),
    )
    return {
        "municipality": {
            "name": "Stadt Herzberg (Elster)",
            "authority": "Der Bürgermeister",
            "department": "20 – Kämmerei",
            "street": "Markt 1",
            "postal_code": "04916",
            "town": "Herzberg (Elster)",
            "phone": "(03535) 482-253",
            "email": "steueramt@herzberg-elster.de",
            "website": "www.herzberg-elster.de",
            "bank_name": "Sparkasse Elbe-Elster",
            "iban": "DE12180510003100012345",
            "bic": "WELADED1EES",
            "creditor_id": "DE98ZZZ09999999999",
            "office_hours": "Di 9–12 und 13–18 Uhr, Do 9–12 und 13–15 Uhr",
        },
        "case": {
            "reference": "HST-2026-000123",
            "file_number": "20.2-HSt-000123/2026",
            "payment_reference": "5.0001.030123.4",
            "filed_at": date(2026, 5, 20),
            "mandate_reference": "HST-2026-000123-M",
        },
        "notice_date": notice,
        "clerk_name": "Petra Schulze",
        "tag_number": "2026-0042",
        "owner": {
            "given_names": "Anna-Lena",
            "family_name": "Müller-Lüdenscheidt",
            "street": "Lindenstraße",
            "house_number": "12a",
            "postal_code": "04916",
            "town": "Herzberg (Elster)",
        },
        "dog": {
            "dog_name": "Bello",
            "breed": "Labrador-Retriever-Mischling",
            "sex": "male",
            "dog_birth_date": date(2024, 3, 2),
            "colour": "schwarz mit weißer Brust",
            "chip_number": "276098100001234",
        },
        "payment": {
            "method": method,
            "interval": "quarterly",
            "iban": "DE89370400440532013000" if method == "direct_debit" else None,
            "account_holder": "Anna-Lena Müller-Lüdenscheidt",
        },
        "reduction": reduction,
        "assessment": assessment,
    }


def _render(context: dict) -> bytes:
    case_json = json.dumps(
        {"case": context["case"]["reference"], "assessment": context["assessment"].to_dict()},
        ensure_ascii=False,
    ).encode()
    return render_pdf(
        "dog_registration_notice.html",
        context,
        title=f"Hundesteuerbescheid {context['case']['reference']}",
        author=context["municipality"]["name"],
        subject="Festsetzung der Hundesteuer",
        attachments=[("falldaten.json", case_json, "Falldaten und Berechnung (JSON)")],
    )


def _text(reader: PdfReader) -> str:
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    # hyphens: auto inserts U+2010 at line breaks; join hyphenated words, unify spaces.
    text = re.sub("\u2010\\s*\n\\s*", "", text).replace("\u2010", "-")
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@pytest.fixture(scope="module")
def notice_pdf() -> bytes:
    return _render(sample_context())


@pytest.fixture(scope="module")
def reader(notice_pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(notice_pdf))


def test_text_content(reader: PdfReader) -> None:
    text = _text(reader)
    flat = re.sub(r"\s+", " ", text)
    assert "HST-2026-000123" in flat
    assert "Anna-Lena Müller-Lüdenscheidt" in flat
    assert "21,00 €" in flat
    assert "10,50 €" in flat
    assert "15.08.2026" in flat and "15.11.2026" in flat
    assert "Widerspruch" in flat
    assert "ohne Unterschrift gültig" in flat
    assert "zugleich Dauerbescheid" in flat
    assert "276 0981 0000 1234" in flat
    assert "DE89 **** **** **** **30 00" in flat  # masked debtor IBAN
    assert "DE89370400440532013000" not in flat.replace(" ", "")  # never in clear
    assert "HST-2026-000123-M" in flat
    assert "Seite 1 von" in flat
    assert "§ 240" in flat


def test_metadata(reader: PdfReader) -> None:
    meta = reader.metadata
    assert meta.title == "Hundesteuerbescheid HST-2026-000123"
    assert meta.author == "Stadt Herzberg (Elster)"
    assert meta.subject == "Festsetzung der Hundesteuer"


def test_pdfa_identification_and_tagging(reader: PdfReader, notice_pdf: bytes) -> None:
    catalog = reader.trailer["/Root"]
    xmp = catalog["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r'pdfaid:part(="|>)3', xmp)
    assert re.search(r'pdfaid:conformance(="|>)A', xmp)
    assert catalog["/MarkInfo"]["/Marked"] == True  # noqa: E712 (pypdf BooleanObject)
    assert catalog["/Lang"] == "de"
    assert "/StructTreeRoot" in catalog
    assert "/OutputIntents" in catalog  # sRGB output intent required by PDF/A
    assert notice_pdf.startswith(b"%PDF-1.7")


def test_embedded_json_round_trips(reader: PdfReader) -> None:
    attachments = reader.attachments
    assert list(attachments) == ["falldaten.json"]
    (data,) = attachments["falldaten.json"]
    payload = json.loads(data)
    assert payload["case"] == "HST-2026-000123"
    assert payload["assessment"]["total"] == "21.00"
    assert payload["assessment"]["instalments"] == [
        {"due_date": "2026-08-15", "amount": "10.50"},
        {"due_date": "2026-11-15", "amount": "10.50"},
    ]
    # PDF/A-3: the file is an associated file of the document.
    catalog = reader.trailer["/Root"]
    af = [ref.get_object() for ref in catalog["/AF"]]
    assert af[0]["/AFRelationship"] == "/Data"
    assert af[0]["/UF"] == "falldaten.json"


def test_transfer_two_periods_and_refused_reduction() -> None:
    # Dangerous dog kept since 20.09.2025, notice 10.03.2026, reduction refused, transfer.
    context = sample_context(
        intake=date(2025, 9, 20),
        notice=date(2026, 3, 10),
        method="transfer",
        dangerous=True,
        reduction={
            "requested": True,
            "reason_label": "Bezug von Bürgergeld",
            "granted": False,
            "percent": Decimal(50),
        },
    )
    reader = PdfReader(io.BytesIO(_render(context)))
    flat = re.sub(r"\s+", " ", _text(reader))
    assert "für 2025 und 2026" in flat
    assert "01.10.2025 – 31.12.2025" in flat
    assert "45,00 €" in flat  # Oct–Dec 2025: 3 × 15.00
    assert "225,00 €" in flat  # 45.00 + 180.00
    assert "5.0001.030123.4" in flat  # Kassenzeichen for the transfer
    assert "DE12 1805 1000 3100 0123 45" in flat  # the town's account, grouped
    assert "lehnen wir ab" in flat
    assert "10.04.2026" in flat  # past due dates moved to notice + 1 month
    assert "Steuersatz für einen gefährlichen Hund" in flat


def test_granted_reduction_shows_column() -> None:
    context = sample_context(
        intake=date(2026, 1, 20),
        notice=date(2026, 2, 5),
        reduction={
            "requested": True,
            "reason_label": "Hund aus dem Tierheim",
            "granted": True,
            "percent": Decimal(50),
        },
    )
    html = render_html("dog_registration_notice.html", context, title="t")
    assert "Ermäßigung</th>" in html
    assert "16,50" in html  # domain example 5
    assert "18,00" in html  # from 2027
    assert "wird entsprochen" in html


def test_autoescape() -> None:
    context = sample_context()
    context["owner"]["family_name"] = "<b>Evil</b> & Co"
    html = render_html("dog_registration_notice.html", context, title="t")
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in html
    assert "<b>Evil</b>" not in html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 6, 9), "09.06.2026"),
        ("2026-06-09", "09.06.2026"),
        ("2026-06-09T10:15:00", "09.06.2026"),
        (None, ""),
    ],
)
def test_date_de(value, expected) -> None:
    assert date_de(value) == expected


def test_money_and_other_filters() -> None:
    assert money_de(Decimal("1234.56")) == "1.234,56\xa0€"
    assert money_de("21") == "21,00\xa0€"
    assert money_de(Decimal("26.67")) == "26,67\xa0€"
    with pytest.raises(TypeError):
        money_de(21.0)  # type: ignore[arg-type]
    assert iban_masked("DE89370400440532013000") == "DE89 **** **** **** **30 00"
    assert iban_masked("de89 3704 0044 0532 0130 00") == "DE89 **** **** **** **30 00"
    assert iban_masked(None) == ""
    assert iban_grouped("DE89370400440532013000") == "DE89 3704 0044 0532 0130 00"
    assert chip_grouped("276098100001234") == "276 0981 0000 1234"
    assert percent_de(Decimal("50")) == "50\xa0%"
    assert percent_de(Decimal("12.50")) == "12,5\xa0%"


def test_no_whitespace_at_block_ends() -> None:
    # WeasyPrint 70 leaves a hyphenated fragment ("Steuer-") alone on a line when a
    # paragraph ends with collapsible whitespace; render_html strips it.
    html = render_html("dog_registration_notice.html", sample_context(), title="t")
    assert not re.search(r"\s</(p|li|td|th)>", html)
    assert tidy_block_whitespace("<p class='a'>\n  Text <b>x</b> \n</p>") == (
        "<p class='a'>Text <b>x</b></p>"
    )
    assert tidy_block_whitespace("<pre> a </pre>") == "<pre> a </pre>"


def test_no_lone_hyphenated_fragment_lines() -> None:
    # The two-period variant triggered the WeasyPrint line-breaking bug before the fix.
    context = sample_context(
        intake=date(2025, 9, 20),
        notice=date(2026, 3, 10),
        method="transfer",
        dangerous=True,
        reduction={
            "requested": True,
            "reason_label": "Bezug von Bürgergeld",
            "granted": False,
            "percent": Decimal(50),
        },
    )
    reader = PdfReader(io.BytesIO(_render(context)))
    raw = "\n".join(page.extract_text() or "" for page in reader.pages)
    lone = [line for line in raw.splitlines() if re.fullmatch(r"\s*\w+\u2010\s*", line)]
    assert lone == []


def _flat(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", _text(PdfReader(io.BytesIO(pdf))))


def test_full_exemption_is_an_exemption_notice_without_payment_terms() -> None:
    # Assistance dog, exempt (100 %) without end, evidence valid until 31.03.2027.
    context = sample_context(
        reduction={
            "requested": True,
            "reason_label": "Assistenzhund (§ 12e BGG)",
            "granted": True,
            "percent": Decimal(100),
            "until": None,
            "evidence_until": date(2027, 3, 31),
        }
    )
    assert context["assessment"].exempt
    flat = _flat(_render(context))
    assert "Bescheid über die Befreiung von der Hundesteuer (Freistellungsbescheid)" in flat
    assert "ist ab dem 01.06.2026 von der Hundesteuer befreit" in flat
    assert "unbefristet, solange die Voraussetzungen der Befreiung vorliegen" in flat
    assert "Assistenzhund (§ 12e BGG)" in flat  # the condition
    assert "Nachweis ist bis zum 31.03.2027 befristet" in flat  # until when, and what to do
    assert "wenn die Voraussetzungen der Steuerbefreiung entfallen" in flat  # what to report
    assert "keine Hundesteuer zu zahlen" in flat
    assert "Nr. 2026-0042" in flat  # an exempt dog gets a tag too
    # Nothing about paying: no amounts, due dates, debit, surcharge.
    unpaid = ("0,00 €", "Fälligkeit", "fällig", "Zahlungshinweise", "Lastschrift")
    for word in (*unpaid, "Säumniszuschlag", "jährlich", "zu zahlen, wenn Sie Widerspruch"):
        assert word not in flat, word
    assert "Widerspruch" in flat  # the legal remedy stays


def test_time_limited_exemption_names_its_end() -> None:
    context = sample_context(
        reduction={
            "requested": True,
            "reason_label": "Hund aus einem Tierheim",
            "granted": True,
            "percent": Decimal(100),
            "until": date(2027, 12, 1),
        }
    )
    context["assessment"] = assess(
        HERZBERG_RATES,
        intake_date=date(2026, 5, 14),
        notice_date=date(2026, 6, 9),
        dangerous=False,
        reduction_percent=Decimal(100),
        reduction_until=date(2027, 12, 1),
    )
    flat = _flat(_render(context))
    assert "befreit (bis einschließlich 12/2027)" in flat
    assert "Fälligkeit" not in flat and "0,00 €" not in flat


def test_yearly_payment_states_the_due_date_from_next_year_on() -> None:
    context = sample_context()
    context["payment"]["interval"] = "annual"
    context["assessment"] = assess(
        HERZBERG_RATES,
        intake_date=date(2026, 5, 14),
        notice_date=date(2026, 6, 9),
        dangerous=False,
        annual_payment=True,
    )
    flat = _flat(_render(context))
    assert "in einem Jahresbetrag zu entrichten, fällig ab 2027 jährlich am 15.02." in flat
    assert "09.07.2026" in flat  # this year's amount: one month after the notice


def test_names_places_and_addresses_are_never_hyphenated() -> None:
    context = sample_context()
    context["owner"].update(
        given_names="Maximiliane Friederike",
        family_name="Mustermann",
        street="Bürgermeister-Schmidt-Straße",
    )
    context["payment"]["account_holder"] = "Maximiliane Friederike Mustermann"
    context["clerk_email"] = "petra.schulze-lehmann@herzberg-elster.de"
    pdf = _render(context)
    raw = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    split = {a + b for a, b in re.findall(r"(\w+)\u2010\s*\n\s*(\w+)", raw)}
    assert split, "running text is hyphenated (hyphens: auto)"
    protected = {"Maximiliane", "Friederike", "Mustermann", "Herzberg", "Elster", "Bello"}
    assert not split & protected
    # E-mail and web addresses do not break at their own hyphens.
    assert not re.search(r"herzberg-\s*\n", raw)
    assert "petra.schulze-lehmann@herzberg-elster.de" in raw


def test_privacy_pointer_names_the_portals_privacy_page() -> None:
    from services.config import get_settings
    from services.municipalities.models import Municipality
    from services.municipalities.service import letterhead

    context = sample_context()
    context["municipality"] = letterhead(
        Municipality(slug="herzberg-elster", **context["municipality"])
    )
    flat = _flat(_render(context))
    url = f"{get_settings().base_url}/herzberg-elster/datenschutz"
    assert f"Datenschutz-Grundverordnung (DSGVO) finden Sie unter {url}" in flat


def test_attachment_is_listed_once_and_the_language_is_in_the_metadata(reader) -> None:
    catalog = reader.trailer["/Root"]
    assert len(catalog["/AF"]) == 1
    names = catalog["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[0] == "falldaten.json" and len(names) == 2
    xmp = catalog["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"<dc:language><rdf:Bag><rdf:li>de</rdf:li></rdf:Bag></dc:language>", xmp)
    assert catalog["/Lang"] == "de"
