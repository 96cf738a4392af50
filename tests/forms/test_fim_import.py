"""FIM XDatenfelder import: both versions map onto a definition the loader accepts; broken and
hostile files are refused with a message naming the element. The fixtures are written for these
tests (tests/forms/fixtures/fim), not copied from the FIM repository."""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from forms.fim import (
    MAX_BYTES,
    FimImportError,
    ImportResult,
    import_xdatenfelder,
    parse_rule,
    slugify,
)
from forms.fim_bundle import MAX_FILES, MAX_TOTAL_BYTES, import_bundle
from forms.loader import parse_definition
from forms.validate import validate

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
    # Rule R99000001 "Wenn F99000018 = ja, dann muss G99000004 angegeben werden" made it
    # required on the earlier yes/no answer.
    assert group["required"] == {"==": [{"var": "gemeinsame_haltung"}, True]}
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
    # Kennzeichnung (0:1) is inlined behind a yes/no question; on "yes" its mandatory
    # Chipnummer is required, its optional date is not.
    hund = fields_of(r, "hund")
    ids = list(hund)
    assert ids.index("chip_angaben") == ids.index("chipnummer") - 1
    assert hund["chip_angaben"]["type"] == "yesno" and hund["chip_angaben"]["required"] is True
    on_yes = {"==": [{"var": "chip_angaben"}, True]}
    assert hund["chipnummer"]["label"]["de"] == "Kennzeichnung: Chipnummer (Transpondernummer)"
    assert hund["chipnummer"]["required"] is True and hund["chipnummer"]["show_if"] == on_yes
    assert "required" not in hund["datum_der_kennzeichnung"]
    assert hund["datum_der_kennzeichnung"]["show_if"] == on_yes
    assert any("chip_angaben" in n for n in notes_for(r, "G99000006", "info"))


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
    assert "mindestens einmal angegeben werden" in rule and "als Bedingung übernommen" in rule
    assert "Skript" in rule  # the script is named as not imported
    [group_rule] = notes_for(r, "R99000002", "info")  # no field named: stays a note
    assert "Kennzeichnung Pflicht" in group_rule and "nachbilden" in group_rule
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
        ("1:1", field_xml("F99000085", name="Name:")),
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


def test_duplicate_values_in_a_value_list_are_refused():
    werte = (
        "<xdf:werte><xdf:wert><xdf:code>a</xdf:code><xdf:name>A</xdf:name></xdf:wert>"
        "<xdf:wert><xdf:code>a</xdf:code><xdf:name>Nochmal A</xdf:name></xdf:wert></xdf:werte>"
    )
    error = refused(
        schema(("1:1", field_xml("F990000000099", "select", name="Art", extra=werte)), ns=V3)
    )
    assert error.element == "F990000000099"
    assert "F990000000099" in error.message.de and "„a“ kommt mehrfach vor" in error.message.de


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


# --- code lists uploaded with the schema (genericode 1.0) ---------------------------------------


def fixture(*names: str) -> list[tuple[str, bytes]]:
    return [(n, (FIXTURES / n).read_bytes()) for n in names]


def bundle(*names: str) -> ImportResult:
    result = import_bundle(fixture(*names))
    parse_definition(result.definition, names[0])
    return result


def test_uploaded_code_lists_become_choice_fields():
    r = bundle("hundehaltung_v2.xml", "codeliste_hunderasse.xml", "codeliste_geschlecht_tier.xml")
    hund = fields_of(r, "hund")
    rasse, geschlecht = hund["rasse"], hund["geschlecht"]
    assert (rasse["type"], rasse["widget"], rasse["required"]) == ("choice", "select", True)
    assert r.definition["code_lists"][rasse["options"]][:2] == [
        {"value": "001", "label": {"de": "Mischling"}},
        {"value": "002", "label": {"de": "Beagle"}},
    ]
    assert len(r.definition["code_lists"][rasse["options"]]) == 9
    # Two values: radio buttons (the default); positional values and qualified children read.
    assert geschlecht["type"] == "choice" and "widget" not in geschlecht
    assert r.definition["code_lists"][geschlecht["options"]] == [
        {"value": "m", "label": {"de": "Rüde"}},
        {"value": "w", "label": {"de": "Hündin"}},
    ]
    assert not notes_for(r, "F99000022", "warning")
    assert any("9 Werte" in n for n in notes_for(r, "F99000022", "info"))


def test_code_and_name_key_pick_the_columns_and_missing_lists_stay_text():
    r = bundle("zuzug_v3.xml", "codeliste_haltungsart.xml")
    hund = fields_of(r, "hund")
    assert hund["art_der_haltung"]["type"] == "choice"
    assert r.definition["code_lists"]["haltungsart"] == [  # nameKey "lang", not "kurz"
        {"value": "001", "label": {"de": "Private Haltung"}},
        {"value": "002", "label": {"de": "Gewerbliche Haltung"}},
    ]
    assert hund["staat"]["type"] == "text" and "options" not in hund["staat"]
    [warning] = notes_for(r, "F990000000222", "warning")
    assert "urn:de:example:fim:codeliste:staat_2024" in warning and "nicht mitgeliefert" in warning


def test_unused_and_other_version_code_lists_are_reported():
    other = (FIXTURES / "codeliste_haltungsart.xml").read_bytes().replace(b"_1<", b"_2<")
    other = other.replace(b"<Version>1</Version>", b"<Version>2</Version>")
    files = [
        *fixture("zuzug_v3.xml", "codeliste_hunderasse.xml"),
        ("haltungsart_2.xml", other),
    ]
    r = import_bundle(files)
    parse_definition(r.definition)
    assert fields_of(r, "hund")["art_der_haltung"]["type"] == "choice"
    [warning] = notes_for(r, "F990000000211", "warning")
    assert "Version „1“" in warning and "Version „2“" in warning
    unused = notes_for(r, "urn:de:example:fim:codeliste:hunderasse_2024-01-01", "info")
    assert unused and "keinem Feld" in unused[0]


def test_broken_code_lists_are_refused_naming_them():
    error = refused_bundle(fixture("hundehaltung_v2.xml", "codeliste_doppelter_code.xml"))
    assert "codeliste_doppelter_code.xml" in error.message.de
    assert "„002“ kommt mehrfach vor" in error.message.de
    no_uri = (FIXTURES / "codeliste_hunderasse.xml").read_bytes()
    no_uri = re.sub(rb"<CanonicalUri>.*?</CanonicalUri>", b"", no_uri)
    error = refused_bundle([*fixture("hundehaltung_v2.xml"), ("ohne_uri.xml", no_uri)])
    assert "ohne_uri.xml" in error.message.de and "CanonicalUri" in error.message.de
    twice = fixture("hundehaltung_v2.xml", "codeliste_hunderasse.xml")
    error = refused_bundle([*twice, ("kopie.xml", twice[1][1])])
    assert "zweimal hochgeladen" in error.message.de and "kopie.xml" in error.message.de


def test_a_bundle_needs_exactly_one_schema():
    error = refused_bundle(fixture("codeliste_hunderasse.xml"))
    assert "genau ein XDatenfelder-Schema" in error.message.de
    error = refused_bundle(fixture("hundehaltung_v2.xml", "hundehaltung_v3.xml"))
    assert "hundehaltung_v2.xml, hundehaltung_v3.xml" in error.message.de
    error = refused_bundle([*fixture("hundehaltung_v2.xml"), ("anderes.xml", b"<a/>")])
    assert "anderes.xml" in error.message.de and "weder" in error.message.de
    error = refused_bundle([*fixture("hundehaltung_v2.xml"), ("kaputt.xml", b"<a>")])
    assert "kaputt.xml" in error.message.de and "kein gültiges XML" in error.message.de


def zipped(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_archive_holds_schema_and_code_lists():
    data = zipped(
        [
            ("schema/hundehaltung_v2.xml", (FIXTURES / "hundehaltung_v2.xml").read_bytes()),
            ("codelisten/rasse.xml", (FIXTURES / "codeliste_hunderasse.xml").read_bytes()),
            ("__MACOSX/._rasse.xml", b"\x00\x05"),
        ]
    )
    seen: list[int] = []
    r = import_bundle([("paket.zip", data)], progress=seen.append)
    parse_definition(r.definition)
    assert seen == [0, 1, 2, 3]
    assert fields_of(r, "hund")["rasse"]["type"] == "choice"
    assert any("paket.zip/codelisten/rasse.xml" in n for n in notes_for(r, "F99000022", "info"))


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([("../../etc/passwd.xml", b"<a/>")], "unzulässigen Pfad"),
        ([("/abs/schema.xml", b"<a/>")], "unzulässigen Pfad"),
        ([("liesmich.txt", b"hallo")], "keine XML-Datei"),
        ([("gross.xml", b" " * (MAX_BYTES + 1))], "zu groß"),
        ([(f"c{i}.xml", b"<a/>") for i in range(MAX_FILES + 1)], "mehr als"),
    ],
)
def test_hostile_zip_archives_are_refused(entries, expected):
    error = refused_bundle([("paket.zip", zipped(entries))])
    assert expected in error.message.de and "paket.zip" in error.message.de


def test_damaged_zip_and_too_much_in_total_are_refused():
    assert "beschädigt" in refused_bundle([("a.zip", b"PK\x03\x04kaputt")]).message.de
    big = b" " * (MAX_BYTES - 10)
    files = [(f"c{i}.xml", big) for i in range(MAX_TOTAL_BYTES // MAX_BYTES + 1)]
    assert "zusammen zu groß" in refused_bundle(files).message.de


def refused_bundle(files: list[tuple[str, bytes]]) -> FimImportError:
    with pytest.raises(FimImportError) as info:
        import_bundle(files)
    return info.value


# --- order, nesting, optional groups ------------------------------------------------------------


def test_fields_directly_under_the_schema_keep_their_place():
    r = bundle("zuzug_v3.xml", "codeliste_haltungsart.xml")
    assert [s["id"] for s in r.definition["steps"]] == ["allgemein", "hund", "weitere_angaben"]
    assert list(fields_of(r, "allgemein")) == ["zuzugsdatum", "hund_vorhanden"]
    assert list(fields_of(r, "weitere_angaben")) == ["bemerkung"]
    placed = [n.de for n in r.report if "direkt im Schema" in n.de]
    assert len(placed) == 2 and "„Bemerkung“" in placed[1] and "Weitere Angaben" in placed[1]


def test_optional_groups_with_mandatory_fields_are_asked_behind_a_question():
    r = bundle("zuzug_v3.xml", "codeliste_haltungsart.xml")
    hund = fields_of(r, "hund")
    gate = hund["vorheriger_wohnort_angaben"]
    assert (gate["type"], gate["required"]) == ("yesno", True)
    on_yes = {"==": [{"var": "vorheriger_wohnort_angaben"}, True]}
    assert hund["ort"]["required"] is True and hund["ort"]["show_if"] == on_yes
    assert "required" not in hund["staat"] and hund["staat"]["show_if"] == on_yes
    # The repeatable group keeps min and max; its nested optional group gets its own question.
    impfung = hund["impfung"]
    assert (impfung["min_items"], impfung["max_items"], impfung["required"]) == (1, 3, True)
    inner = {f["id"]: f for f in impfung["fields"]}
    assert list(inner) == ["impfdatum", "tierarzt_angaben", "praxis", "praxisort"]
    assert inner["praxis"]["required"] is True
    assert inner["praxis"]["show_if"] == {"==": [{"var": "tierarzt_angaben"}, True]}
    assert any("eingeebnet" in n for n in notes_for(r, "G990000000240", "warning"))


def test_optional_group_fields_are_required_only_on_yes():
    d = parse_definition(bundle("zuzug_v3.xml", "codeliste_haltungsart.xml").definition)
    base = {
        "zuzugsdatum": "01.06.2024",
        "hund_vorhanden": "ja",
        "art_der_haltung": "001",
        "impfung": [{"impfdatum": "01.05.2024", "tierarzt_angaben": "nein"}],
    }
    clean, errors = validate(d, {**base, "vorheriger_wohnort_angaben": "nein"})
    assert not errors, errors
    _, errors = validate(d, {**base, "vorheriger_wohnort_angaben": "ja"})
    assert [e.field for e in errors] == ["ort"]
    item = {"impfdatum": "01.05.2024", "tierarzt_angaben": "ja"}
    _, errors = validate(d, {**base, "vorheriger_wohnort_angaben": "nein", "impfung": [item]})
    assert [e.field for e in errors] == ["impfung.0.praxis"]


# --- rules as conditions ------------------------------------------------------------------------


def test_simple_rules_become_conditions():
    r = bundle("zuzug_v3.xml", "codeliste_haltungsart.xml")
    hund_step = next(s for s in r.definition["steps"] if s["id"] == "hund")
    assert hund_step["show_if"] == {"==": [{"var": "hund_vorhanden"}, True]}  # R…201
    hund = fields_of(r, "hund")
    assert hund["gewerbeerlaubnis"]["show_if"] == {"==": [{"var": "art_der_haltung"}, "002"]}
    assert hund["gewerbeerlaubnis"]["required"] is True  # R…202: shown and then required
    assert hund["hinweis_gewerbe"]["show_if"] == {"==": [{"var": "art_der_haltung"}, "002"]}
    for rule in ("R990000000201", "R990000000202", "R990000000203"):
        assert any("als Bedingung übernommen" in n for n in notes_for(r, rule, "info")), rule
    [complex_rule] = notes_for(r, "R990000000204", "info")  # two conditions: a note
    assert "nachbilden" in complex_rule


def test_rule_conditions_work_in_the_form_engine():
    d = parse_definition(bundle("zuzug_v3.xml", "codeliste_haltungsart.xml").definition)
    clean, errors = validate(d, {"zuzugsdatum": "01.06.2024", "hund_vorhanden": "nein"})
    assert not errors and "art_der_haltung" not in clean  # the dog's step is not asked
    answers = {
        "zuzugsdatum": "01.06.2024",
        "hund_vorhanden": "ja",
        "art_der_haltung": "002",
        "vorheriger_wohnort_angaben": "nein",
        "impfung": [{"impfdatum": "01.05.2024", "tierarzt_angaben": "nein"}],
    }
    _, errors = validate(d, answers)
    assert [e.field for e in errors] == ["gewerbeerlaubnis"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "WENN F60000227 'Gemeinsame Haltung' = ja, DANN ist G60000090 Pflicht.",
            ("F60000227", False, "ja", ("G60000090",), False, False, True),
        ),
        (
            "Wenn F1700009294 (Status) ≠ „001“ 'schwanger', dann blende F1700009295 aus",
            ("F1700009294", True, "001", ("F1700009295",), False, True, False),
        ),
        (
            "WENN F1 = 'gewerblich', DANN aktiviere F2 und F3 UND mache sie zur Pflichtangabe.",
            ("F1", False, "gewerblich", ("F2", "F3"), True, False, True),
        ),
    ],
)
def test_parse_rule_reads_the_simple_shape(text, expected):
    rule = parse_rule(text)
    assert rule is not None
    got = (rule.source, rule.negated, rule.value, rule.targets, rule.show, rule.hide)
    assert (*got, rule.require) == expected


@pytest.mark.parametrize(
    "text",
    [
        "WENN F1 = ja UND F2 = nein, DANN ist F3 Pflicht.",
        "WENN F1 = ja, DANN ist F3 Pflicht, SONST ist F4 Pflicht.",
        "WENN F1 = ja, DANN berechne F3 aus F2.",
        "WENN F1 = ja, DANN muss G3 mindestens 2 mal angegeben werden.",
        "WENN F1 = ja, DANN blende F3 aus und mache es zur Pflichtangabe.",
        "F3 ist Pflicht, wenn F1 = ja.",
        "Die Angaben sind vollständig zu machen.",
    ],
)
def test_other_rules_are_not_conditions(text):
    assert parse_rule(text) is None


def test_rules_reading_a_later_or_unsuitable_field_stay_notes_with_the_reason():
    rules = (
        "<xdf:regel><xdf:identifikation><xdf:id>R99000301</xdf:id></xdf:identifikation>"
        "<xdf:name>Spaet</xdf:name><xdf:definition>WENN F99000303 = ja, DANN aktiviere "
        "F99000302.</xdf:definition></xdf:regel>"
        "<xdf:regel><xdf:identifikation><xdf:id>R99000302</xdf:id></xdf:identifikation>"
        "<xdf:name>Text</xdf:name><xdf:definition>WENN F99000302 = Berlin, DANN aktiviere "
        "F99000303.</xdf:definition></xdf:regel>"
    )
    group = group_xml(
        "G99000300",
        ("0:1", field_xml("F99000302", name="Ort")),
        ("0:1", field_xml("F99000303", datentyp="bool", name="Hund")),
        name="Daten",
    ).replace("<xdf:struktur>", rules + "<xdf:struktur>", 1)
    r = import_xdatenfelder(schema(("1:1", group)))
    parse_definition(r.definition)
    assert not any(f.get("show_if") for f in fields_of(r, "daten").values())
    [late] = notes_for(r, "R99000301", "info")
    assert "nicht vor allen Zielen" in late
    [text] = notes_for(r, "R99000302", "info")
    assert "keine Ja/Nein- oder Auswahlfrage" in text


# --- duplicates ---------------------------------------------------------------------------------


def test_the_same_element_twice_in_one_structure_is_refused():
    f = field_xml("F99000401", name="Vorname")
    error = refused(schema(("1:1", group_xml("G99000400", ("1:1", f), ("0:1", f)))))
    assert error.element == "F99000401"
    assert "G99000400" in error.message.de and "zweimal" in error.message.de


def test_two_elements_with_the_same_name_are_refused():
    group = group_xml(
        "G99000410",
        ("1:1", field_xml("F99000411", name="Familienname")),
        ("0:1", field_xml("F99000412", name="familienname ")),
    )
    error = refused(schema(("1:1", group)))
    assert "F99000411 und F99000412" in error.message.de and "Familienname" in error.message.de
    assert "same name" in error.message.en
