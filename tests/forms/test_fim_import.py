"""FIM XDatenfelder import: both versions map onto a definition the loader accepts; broken and
hostile files are refused with a message naming the element. The fixtures are written for these
tests (tests/forms/fixtures/fim), not copied from the FIM repository."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from forms.fim import MAX_BYTES, FimImportError, ImportResult, import_xdatenfelder, slugify
from forms.loader import parse_definition

FIXTURES = Path(__file__).parent / "fixtures" / "fim"
V2 = "urn:xoev-de:fim:standard:xdatenfelder_2"
V3 = "urn:xoev-de:fim:standard:xdatenfelder_3.0.0"


def load(name: str) -> ImportResult:
    result = import_xdatenfelder((FIXTURES / name).read_bytes(), name)
    parse_definition(result.definition, name)  # every import must load
    return result


def fields_of(result: ImportResult, step: str) -> dict[str, dict]:
    s = next(s for s in result.definition["steps"] if s["id"] == step)
    return {f["id"]: f for f in s["fields"]}


def notes_for(result: ImportResult, element: str, level: str | None = None) -> list[str]:
    return [
        n.de for n in result.report if n.element == element and (level is None or n.level == level)
    ]


def field_xml(
    fid: str,
    feldart: str = "input",
    datentyp: str = "text",
    name: str | None = None,
    extra: str = "",
    ns: str = "xdf",
) -> str:
    return (
        f"<{ns}:datenfeld><{ns}:identifikation><{ns}:id>{fid}</{ns}:id>"
        f"<{ns}:version>1.0</{ns}:version></{ns}:identifikation>"
        f"<{ns}:name>{name or fid}</{ns}:name>"
        f"<{ns}:feldart><code>{feldart}</code></{ns}:feldart>"
        f"<{ns}:datentyp><code>{datentyp}</code></{ns}:datentyp>{extra}</{ns}:datenfeld>"
    )


def group_xml(gid: str, *entries: tuple[str, str], name: str | None = None) -> str:
    body = "".join(
        f"<xdf:struktur><xdf:anzahl>{a}</xdf:anzahl><xdf:enthaelt>{e}</xdf:enthaelt></xdf:struktur>"
        for a, e in entries
    )
    return (
        f"<xdf:datenfeldgruppe><xdf:identifikation><xdf:id>{gid}</xdf:id>"
        f"<xdf:version>1.0</xdf:version></xdf:identifikation><xdf:name>{name or gid}</xdf:name>"
        f"{body}</xdf:datenfeldgruppe>"
    )


def schema(*entries: tuple[str, str], ns: str = V2, root: str = "stammdatenschema") -> bytes:
    body = "".join(
        f"<xdf:struktur><xdf:anzahl>{a}</xdf:anzahl><xdf:enthaelt>{e}</xdf:enthaelt></xdf:struktur>"
        for a, e in entries
    )
    number = "0103" if root == "datenfeldgruppe" else "0102"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<xdf:xdatenfelder.{root}.{number} xmlns:xdf="{ns}">'
        f"<xdf:{root}><xdf:identifikation><xdf:id>S99000077</xdf:id>"
        f"<xdf:version>1.0</xdf:version></xdf:identifikation><xdf:name>Kleines Schema</xdf:name>"
        f"{body}</xdf:{root}></xdf:xdatenfelder.{root}.{number}>"
    ).encode()


def refused(data: bytes) -> FimImportError:
    with pytest.raises(FimImportError) as info:
        import_xdatenfelder(data, "test.xml")
    return info.value


# --- XDatenfelder 2.0 ---------------------------------------------------------------------------


def test_v2_schema_maps_to_a_loadable_definition():
    r = load("hundehaltung_v2.xml")
    assert (r.version, r.schema_id, r.schema_version) == ("2.0", "S99000001", "1.0")
    assert r.name == "Hundehaltung anmelden"
    d = r.definition
    assert d["id"] == "hundehaltung_anmelden" and d["version"] == 1
    assert d["title"] == {"de": "Anmeldung eines Hundes zur Hundesteuer"}
    # Fields directly under the schema come first, then one step per top-level group.
    assert [s["id"] for s in d["steps"]] == ["allgemein", "halter", "hund", "nachweise"]
    assert d["steps"][1]["intro"]["de"].startswith("Halterin oder Halter ist")


def test_v2_field_types_and_precision():
    r = load("hundehaltung_v2.xml")
    halter = fields_of(r, "halter")
    assert halter["vorname"] == {
        "id": "vorname",
        "type": "text",
        "label": {"de": "Vorname(n)"},
        "hint": {"de": "Alle Vornamen wie im Ausweis."},
        "required": True,
        "max_length": 100,  # JSON Praezisierung {"minLength":"1","maxLength":"100"}
    }
    assert halter["geburtsdatum"]["type"] == "date"
    assert halter["gemeinsame_haltung"]["type"] == "yesno"
    hund = fields_of(r, "hund")
    assert hund["kaufpreis"] == {
        "id": "kaufpreis",
        "type": "money",
        "label": {"de": "Kaufpreis"},
        "min": 0,
        "max": 100000,
    }
    assert hund["gewicht"]["type"] == "decimal" and "min" not in hund["gewicht"]
    assert hund["gewicht"]["max"] == 120
    assert any("0.5" in n for n in notes_for(r, "F99000027", "warning"))
    anzahl = hund["anzahl_hunde"]
    assert (anzahl["type"], anzahl["min"], anzahl["max"], anzahl["required"]) == (
        "integer",
        1,
        20,
        True,
    )
    assert hund["hinweis_gefaehrliche_hunde"] == {
        "id": "hinweis_gefaehrliche_hunde",
        "type": "info",
        "label": {
            "de": "Gefährliche Hunde müssen zusätzlich bei der Ordnungsbehörde angezeigt werden."
        },
    }
    nachweise = fields_of(r, "nachweise")
    assert nachweise["nachweis_haftpflicht"]["type"] == "file"
    assert nachweise["nachweis_haftpflicht"]["max_files"] == 3  # anzahl 0:3
    assert nachweise["bemerkungen"]["type"] == "textarea"  # maxLength 1000
    # The optional group's fields are optional.
    assert not any(f.get("required") for f in nachweise.values())


def test_v2_nested_groups_inline_or_repeat():
    r = load("hundehaltung_v2.xml")
    halter = fields_of(r, "halter")
    # Anschrift (1:1) is inlined, its name prefixed to the labels.
    assert halter["strasse"]["label"] == {"de": "Anschrift: Straße"}
    assert halter["strasse"]["required"] is True
    # Weitere Halter (0:3) becomes a repeatable group, its nested Anschrift flattened.
    group = halter["weitere_halter"]
    assert group["type"] == "group"
    assert (group["min_items"], group["max_items"]) == (0, 3)
    assert "required" not in group
    assert [f["id"] for f in group["fields"]] == [
        "vorname",
        "familienname",
        "geburtsdatum",
        "strasse",
        "hausnummer",
        "postleitzahl",
        "ort",
    ]
    assert "required" not in group["fields"][2]  # Geburtsdatum 0:1
    assert any("eingeebnet" in n for n in notes_for(r, "G99000003", "warning"))
    # Kennzeichnung (0:1) is inlined; its mandatory Chipnummer becomes optional, with a note.
    hund = fields_of(r, "hund")
    assert hund["chipnummer"]["label"]["de"] == "Kennzeichnung: Chipnummer (Transpondernummer)"
    assert "required" not in hund["chipnummer"]
    assert notes_for(r, "G99000006", "info")


def test_v2_repeating_field_becomes_a_group_of_one():
    r = load("hundehaltung_v2.xml")
    telefon = fields_of(r, "halter")["telefon"]
    assert telefon["type"] == "group" and telefon["max_items"] == 2
    assert [f["id"] for f in telefon["fields"]] == ["telefon"]
    assert telefon["fields"][0]["max_length"] == 30


def test_v2_code_list_reference_without_values_is_a_text_field_with_a_warning():
    r = load("hundehaltung_v2.xml")
    rasse = fields_of(r, "hund")["rasse"]
    assert rasse["type"] == "text" and "options" not in rasse
    [warning] = notes_for(r, "F99000022", "warning")
    assert "C99000001" in warning
    assert "urn:de:example:fim:codeliste:hunderasse_2024-01-01" in warning
    assert "code_lists" not in r.definition


def test_v2_rules_become_notes_with_their_text():
    r = load("hundehaltung_v2.xml")
    [rule] = notes_for(r, "R99000001", "info")
    assert "mindestens einmal angegeben werden" in rule
    assert "Skript" in rule  # the script is named as not imported
    [group_rule] = notes_for(r, "R99000002", "info")
    assert "Kennzeichnung Pflicht" in group_rule
    english = next(n for n in r.report if n.element == "R99000001")
    assert english.en.startswith("Rule")


def test_v2_pattern_and_min_length_are_reported_once():
    r = load("hundehaltung_v2.xml")
    # Postleitzahl is used in two places (Halter and Weitere Halter): one note each.
    warnings = notes_for(r, "F99000016", "warning")
    assert len(warnings) == 2
    assert any("[0-9]{5}" in w for w in warnings)
    assert any("Mindestlänge 5" in w for w in warnings)


def test_inline_repetition_is_read_once():
    # Vorname, Familienname, Geburtsdatum and the Anschrift group repeat inline in the fixture.
    text = (FIXTURES / "hundehaltung_v2.xml").read_text(encoding="utf-8")
    assert text.count("<xdf:id>F99000011</xdf:id>") == 2
    assert text.count("<xdf:id>G99000003</xdf:id>") == 2
    r = load("hundehaltung_v2.xml")
    assert not r.notes("error")


def test_definition_survives_yaml_round_trip():
    r = load("hundehaltung_v3.xml")
    text = yaml.safe_dump(r.definition, allow_unicode=True, sort_keys=False)
    parse_definition(yaml.safe_load(text), "roundtrip")


# --- XDatenfelder 3.0 ---------------------------------------------------------------------------


def test_v3_schema_maps_to_a_loadable_definition():
    r = load("hundehaltung_v3.xml")
    assert (r.version, r.schema_id, r.schema_version) == ("3.0", "S990000000001", "1.0.0")
    assert r.definition["title"] == {"de": "Anmeldung eines Hundes zur Hundesteuer"}
    assert [s["id"] for s in r.definition["steps"]] == ["allgemein", "halter", "hund", "nachweise"]
    halter = fields_of(r, "halter")
    assert halter["vorname"]["max_length"] == 100  # attribute-style Praezisierung
    assert halter["postleitzahl"]["max_length"] == 5
    assert any("[0-9]{5}" in n for n in notes_for(r, "F990000000016", "warning"))
    assert halter["weitere_halter"]["max_items"] == 3


def test_v3_inline_values_become_code_lists():
    r = load("hundehaltung_v3.xml")
    hund = fields_of(r, "hund")
    assert hund["geschlecht"]["type"] == "choice"
    assert r.definition["code_lists"][hund["geschlecht"]["options"]] == [
        {"value": "m", "label": {"de": "Rüde"}},
        {"value": "w", "label": {"de": "Hündin"}},
    ]
    # A select that may repeat (0:*) becomes a multiple choice.
    assert hund["verwendung"]["type"] == "multichoice"
    assert [o["value"] for o in r.definition["code_lists"]["verwendung"]] == [
        "begleit",
        "assistenz",
        "jagd",
    ]
    # A reference without values: text field and a warning naming the URI.
    assert hund["rasse"]["type"] == "text"
    assert any("hunderasse_2024-01-01" in n for n in notes_for(r, "F990000000022", "warning"))


def test_v3_hidden_locked_time_and_latin():
    r = load("hundehaltung_v3.xml")
    ids = {f["id"] for s in r.definition["steps"] for f in s["fields"]}
    assert "personenkennzeichen" not in ids and "steuerkennung" not in ids
    assert notes_for(r, "F990000000019", "info") and notes_for(r, "F990000000031", "info")
    hund = fields_of(r, "hund")
    assert hund["aufnahmezeit"]["type"] == "text"
    assert notes_for(r, "F990000000030", "warning")  # time
    assert fields_of(r, "allgemein")["anmeldezeitpunkt"]["type"] == "text"
    assert notes_for(r, "F990000000001", "warning")  # datetime
    assert fields_of(r, "halter")["strasse"]["type"] == "text"  # text_latin
    assert notes_for(r, "F990000000014", "info")
    assert notes_for(r, "R990000000002", "info")  # rule on a group


def test_v3_field_group_message_is_accepted():
    data = schema(
        ("1:1", field_xml("F990000000071", name="Name")),
        ("0:1", field_xml("F990000000072", datentyp="num_int", name="Alter")),
        ns=V3,
        root="datenfeldgruppe",
    )
    r = import_xdatenfelder(data)
    parse_definition(r.definition)
    assert r.version == "3.0"
    assert [f["id"] for f in r.definition["steps"][0]["fields"]] == ["name", "alter"]


# --- both element variants and edge cases -------------------------------------------------------


def test_codes_as_plain_text_are_read_too():
    data = schema(
        (
            "1:1",
            "<xdf:datenfeld><xdf:identifikation><xdf:id>F99000081</xdf:id></xdf:identifikation>"
            "<xdf:name>Geburtsort</xdf:name><xdf:feldart>input</xdf:feldart>"
            "<xdf:datentyp> text </xdf:datentyp></xdf:datenfeld>",
        )
    )
    r = import_xdatenfelder(data)
    assert r.definition["steps"][0]["fields"][0]["id"] == "geburtsort"


def test_unreadable_v2_precision_is_reported():
    extra = "<xdf:praezisierung>max. 50 Zeichen</xdf:praezisierung>"
    r = import_xdatenfelder(schema(("1:1", field_xml("F99000082", extra=extra))))
    assert any("max. 50 Zeichen" in n for n in notes_for(r, "F99000082", "warning"))
    assert "max_length" not in r.definition["steps"][0]["fields"][0]


def test_ids_are_slugs_with_fim_fallback_and_deduplicated():
    assert slugify("Straße und Hausnummer") == "strasse_und_hausnummer"
    assert slugify("1. Angabe") == ""
    data = schema(
        ("1:1", field_xml("F99000083", name="1. Angabe")),
        ("1:1", field_xml("F99000084", name="Name")),
        ("1:1", field_xml("F99000085", name="NAME")),
    )
    r = import_xdatenfelder(data)
    parse_definition(r.definition)
    assert [f["id"] for f in r.definition["steps"][0]["fields"]] == [
        "f99000083",
        "name",
        "name_2",
    ]


def test_required_follows_multiplicity():
    group = group_xml(
        "G99000086",
        ("1:1", field_xml("F99000087", name="Pflicht")),
        ("0:1", field_xml("F99000088", name="Freiwillig")),
        name="Daten",
    )
    r = import_xdatenfelder(schema(("1:1", group)))
    fields = fields_of(r, "daten")
    assert fields["pflicht"]["required"] is True
    assert "required" not in fields["freiwillig"]


def test_nested_repeatable_group_and_file_inside_a_group():
    inner = group_xml("G99000090", ("1:*", field_xml("F99000091", name="Wert")), name="Innen")
    outer = group_xml(
        "G99000092",
        ("1:1", field_xml("F99000093", name="Bezeichnung")),
        ("0:5", inner),
        ("0:1", field_xml("F99000094", datentyp="file", name="Anlage")),
        ("1:1", field_xml("F99000095", feldart="label", name="Hinweis")),
        name="Posten",
    )
    r = import_xdatenfelder(schema(("1:1", field_xml("F99000089", name="Titel")), ("1:*", outer)))
    parse_definition(r.definition)
    step = r.definition["steps"][1]
    [group] = step["fields"]
    assert group["type"] == "group" and group["required"] is True
    assert (group["min_items"], group["max_items"]) == (1, 20)  # "*" is capped
    assert [f["id"] for f in group["fields"]] == ["bezeichnung", "wert"]
    assert group["fields"][1]["label"] == {"de": "Innen: Wert"}
    assert notes_for(r, "G99000090", "warning")  # flattened, repetition lost
    assert notes_for(r, "F99000094", "error")  # a file cannot be in a group
    assert notes_for(r, "F99000095", "info")  # the label went into the hint
    assert group["hint"] == {"de": "Hinweis"}


def test_object_fields_and_empty_selects_are_reported():
    data = schema(
        ("1:1", field_xml("F99000096", datentyp="obj", name="Signatur")),
        ("1:1", field_xml("F99000097", feldart="select", name="Auswahl")),
        ("1:1", field_xml("F99000098", name="Name")),
    )
    r = import_xdatenfelder(data)
    assert [f["id"] for f in r.definition["steps"][0]["fields"]] == ["auswahl", "name"]
    assert notes_for(r, "F99000096", "error")
    assert notes_for(r, "F99000097", "warning")


def test_duplicate_values_in_a_value_list_are_reported():
    werte = (
        "<xdf:werte><xdf:wert><xdf:code>a</xdf:code><xdf:name>A</xdf:name></xdf:wert>"
        "<xdf:wert><xdf:code>a</xdf:code><xdf:name>Nochmal A</xdf:name></xdf:wert></xdf:werte>"
    )
    r = import_xdatenfelder(
        schema(("1:1", field_xml("F990000000099", "select", name="Art", extra=werte)), ns=V3)
    )
    parse_definition(r.definition)
    assert r.definition["code_lists"]["art"] == [{"value": "a", "label": {"de": "A"}}]
    assert notes_for(r, "F990000000099", "warning")


# --- broken and hostile files -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["xxe.xml", "external_dtd.xml", "billion_laughs.xml"])
def test_dtds_and_entities_are_refused(name):
    started = time.monotonic()
    error = refused((FIXTURES / name).read_bytes())
    assert "DOCTYPE" in error.message.de or "Entitäten" in error.message.de
    assert "security" in error.message.en
    assert time.monotonic() - started < 1  # nothing was expanded or fetched


def test_wrong_namespace_is_refused_naming_it():
    error = refused((FIXTURES / "wrong_namespace.xml").read_bytes())
    assert "urn:xoev-de:fim:standard:xdatenfelder_1" in str(error)
    assert "Namensraum" in error.message.de


def test_no_namespace_and_unknown_root_are_refused():
    assert "(keiner)" in refused(b"<stammdatenschema/>").message.de
    error = refused(f'<x:xdatenfelder.dokumentsteckbrief.0101 xmlns:x="{V2}"/>'.encode())
    assert "xdatenfelder.dokumentsteckbrief.0101" in error.message.de


def test_not_xml_is_refused():
    error = refused((FIXTURES / "not_xml.xml").read_bytes())
    assert "kein gültiges XML" in error.message.de and "Zeile 1" in error.message.de
    assert "leer" in refused(b"  \n").message.de


def test_duplicate_id_with_conflicting_content_is_refused():
    error = refused((FIXTURES / "duplicate_conflict.xml").read_bytes())
    assert error.element == "F99000051"
    assert "F99000051" in error.message.de and "unterschiedlichem Inhalt" in error.message.de


def test_unknown_data_type_is_refused_naming_the_field():
    error = refused((FIXTURES / "unknown_datentyp.xml").read_bytes())
    assert error.element == "F990000000061"
    assert "geo_point" in error.message.de and "F990000000061" in error.message.de


def test_unknown_field_kind_is_refused():
    error = refused(schema(("1:1", field_xml("F99000061", feldart="slider"))))
    assert "F99000061" in error.message.de and "slider" in error.message.de


def test_missing_id_is_refused():
    data = schema(
        (
            "1:1",
            "<xdf:datenfeld><xdf:name>Ohne Kennung</xdf:name>"
            "<xdf:feldart><code>input</code></xdf:feldart></xdf:datenfeld>",
        )
    )
    error = refused(data)
    assert "Ohne Kennung" in error.message.de and "S99000077" in error.message.de


@pytest.mark.parametrize("anzahl", ["", "eins", "2:1", "0:0"])
def test_bad_multiplicity_is_refused(anzahl):
    error = refused(schema((anzahl, field_xml("F99000062"))))
    assert "Anzahl" in error.message.de and "S99000077" in error.message.de


def test_structure_must_contain_exactly_one_element():
    error = refused(schema(("1:1", field_xml("F99000063") + field_xml("F99000064"))))
    assert "genau ein" in error.message.de


def test_too_deep_nesting_is_refused():
    inner = field_xml("F99000065")
    for level in range(30):
        inner = group_xml(f"G990001{level:02d}", ("1:1", inner))
    error = refused(schema(("1:1", inner)))
    assert "zu tief" in error.message.de


def test_deep_xml_is_refused_before_it_is_walked():
    data = f'<x:xdatenfelder.stammdatenschema.0102 xmlns:x="{V2}">'.encode()
    data += b"<a>" * 5000 + b"</a>" * 5000 + b"</x:xdatenfelder.stammdatenschema.0102>"
    assert "zu tief" in refused(data).message.de


def test_too_large_file_is_refused():
    data = schema(("1:1", field_xml("F99000066")))
    data = data.replace(b"<?xml", b" " * (MAX_BYTES + 1) + b"<?xml", 1)
    assert "zu groß" in refused(data).message.de


def test_schema_without_importable_fields_is_refused():
    error = refused(schema(("1:1", field_xml("F99000067", feldart="hidden"))))
    assert "keine Felder" in error.message.de
