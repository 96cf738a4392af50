"""Import a FIM XDatenfelder schema (2.0 or 3.0) into a draft form definition.

Pure: bytes in, a raw definition (what ``forms.loader.parse_definition`` accepts) and a
report out. A broken or hostile file is refused with ``FimImportError`` naming the element.

Reading happens in two passes. The first turns the XML into a small model (fields, groups,
rules), deduplicating elements that repeat inline by (id, version) and refusing a repetition
whose content differs. The second maps that model onto steps and fields and notes everything
it could not carry over, so the administrator knows what to finish by hand.

Mapping (see shared/domain.md section 8):

- top-level Datenfeldgruppen become steps; fields directly under the schema become steps of
  their own at their place ("Allgemeine Angaben" before the first group, "Weitere Angaben"
  after one), with a note, so the schema's order is kept;
- a nested group that repeats (max > 1 or ``*``) becomes a repeatable ``group`` field with its
  min and max (max capped at 20, with a note); a group inside it cannot be shown by the form
  engine and is flattened, with a warning; any other nested group is inlined, its name
  prefixed to the labels;
- ``anzahl`` min >= 1 makes a field required (only if every enclosing group is required too);
  an optional group (0:1) with mandatory fields is asked through a yes/no question first
  (``<gruppe>_angaben``): its fields are shown, and its mandatory ones required, on "yes";
- Feldart input by Datentyp: text/text_latin -> text (textarea above 200 characters),
  bool -> yesno, date -> date, num -> decimal, num_int -> integer, num_currency -> money,
  file -> file, time/datetime -> text (warning); obj is not mapped (error note);
- Feldart select -> choice (multichoice when it repeats; a select list above 7 values) with a
  code list from the inline values (XDatenfelder 3 ``werte``) or from a genericode code list
  uploaded with the schema (``forms.genericode``, matched by version URI; ``codeKey`` and
  ``nameKey`` pick its columns); a referenced code list that was not supplied leaves a text
  field with a warning naming it;
- Feldart label -> info text; hidden and locked (3.0) are skipped with a note;
- Praezisierung: maxLength -> max_length, minValue/maxValue -> min/max; pattern, minLength and
  non-integer bounds are reported, not mapped;
- Regeln are prose: a rule of the simple shape ``WENN F… = | != Wert, DANN aktiviere /
  blende aus / Pflicht F…/G…`` on a yes/no or choice field becomes a show_if / required
  condition (``parse_rule``, ``_Mapper.apply_rules``); every other rule becomes a note.

Duplicates inside one structure level (the same id twice, two elements of the same name),
one value list or one code list (the same code twice) are refused, naming them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from forms.model import Text

if TYPE_CHECKING:
    from forms.genericode import CodeList

NS_V2 = "urn:xoev-de:fim:standard:xdatenfelder_2"
NS_V3 = "urn:xoev-de:fim:standard:xdatenfelder_3.0.0"
VERSIONS = {NS_V2: "2.0", NS_V3: "3.0"}

MAX_BYTES = 5 * 1024 * 1024
MAX_XML_DEPTH = 160  # element nesting; each group level takes about four
MAX_GROUP_DEPTH = 15  # Datenfeldgruppen inside Datenfeldgruppen
MAX_ELEMENTS = 250_000
MAX_ITEMS = 20  # FieldDef.max_items / max_files upper bound
TEXTAREA_FROM = 200  # maxLength above this: a multi-line field
MAX_ID_LENGTH = 48

FELDARTEN = ("input", "select", "label", "hidden", "locked")
DATENTYPEN = (
    "text",
    "text_latin",
    "date",
    "time",
    "datetime",
    "bool",
    "num",
    "num_int",
    "num_currency",
    "file",
    "obj",
)
_NUMBER_TYPES = {"num": "decimal", "num_int": "integer", "num_currency": "money"}

Level = Literal["info", "warning", "error"]


# --- results and errors ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImportNote:
    """One line of the import report. ``element`` is the FIM id (F…, G…, R…, S…) or ""."""

    level: Level
    element: str
    message: Text

    @property
    def de(self) -> str:
        return self.message.de

    @property
    def en(self) -> str:
        return self.message.get("en")


@dataclass
class ImportResult:
    definition: dict[str, Any]
    report: list[ImportNote]
    version: str  # "2.0" or "3.0"
    schema_id: str
    schema_version: str | None
    name: str

    def notes(self, level: Level) -> list[ImportNote]:
        return [n for n in self.report if n.level == level]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, to keep the result (services.fim stores it with the import)."""
        return {
            "definition": self.definition,
            "report": [
                {"level": n.level, "element": n.element, "de": n.de, "en": n.message.en}
                for n in self.report
            ],
            "version": self.version,
            "schema_id": self.schema_id,
            "schema_version": self.schema_version,
            "name": self.name,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportResult:
        return cls(
            definition=data["definition"],
            report=[
                ImportNote(n["level"], n["element"], Text(de=n["de"], en=n.get("en")))
                for n in data["report"]
            ],
            version=data["version"],
            schema_id=data["schema_id"],
            schema_version=data.get("schema_version"),
            name=data["name"],
        )


class FimImportError(ValueError):
    """The file cannot be imported; the message names the element or problem."""

    def __init__(self, de: str, en: str, element: str | None = None) -> None:
        self.message = Text(de=de, en=en)
        self.element = element
        super().__init__(f"{de} / {en}")


# --- the intermediate model -----------------------------------------------------------------


@dataclass
class _Rule:
    id: str
    version: str | None
    name: str
    text: str
    has_script: bool


@dataclass
class _CodeRef:
    id: str | None  # C… (XDatenfelder 2 only)
    uri: str  # canonicalVersionUri, else canonicalIdentification
    canonical: str = ""  # canonicalIdentification
    version: str = ""
    code_key: str = ""  # XDatenfelder 3: the genericode columns for code and label
    name_key: str = ""


@dataclass
class _Field:
    id: str
    version: str | None
    name: str
    label: str
    hint: str
    content: str  # "inhalt": the text of a label field
    feldart: str
    datentyp: str
    praezisierung: dict[str, Any]
    praezisierung_unreadable: str
    code_ref: _CodeRef | None
    values: list[tuple[str, str]] | None
    rules: list[_Rule]


@dataclass
class _Group:
    id: str
    version: str | None
    name: str
    label: str
    hint: str
    rules: list[_Rule]
    children: list[_Entry] = field(default_factory=list)


@dataclass
class _Entry:
    min: int
    max: int | None  # None: unbounded ("*")
    element: _Field | _Group

    @property
    def repeats(self) -> bool:
        return self.max is None or self.max > 1


def _key(el: _Field | _Group | _Rule) -> str:
    return f"{el.id} (Version {el.version})" if el.version else el.id


# --- duplicates: refused, naming them ----------------------------------------------------------
# The same element may repeat inline across a file (read once, see _Reader.once); inside one
# structure level, one value list or one code list, a repetition is an error in the file.


def _refuse_duplicate_codes(codes: list[str], where: str, element: str) -> None:
    seen: set[str] = set()
    twice = [c for c in codes if c in seen or seen.add(c)]
    if twice:
        more = sorted(set(twice) - {twice[0]})[:3]
        also_de = f" (ebenso {', '.join(more)})" if more else ""
        also_en = f" (so do {', '.join(more)})" if more else ""
        raise FimImportError(
            f"{where}: der Code „{twice[0]}“ kommt mehrfach vor{also_de}. Jeder Code darf nur "
            "einmal vorkommen.",
            f'{where}: the code "{twice[0]}" occurs more than once{also_en}. Each code may occur '
            "only once.",
            element=element,
        )


def _refuse_duplicate_siblings(entries: list[_Entry], where: str) -> None:
    """One structure level may hold an element only once, and no two elements of the same
    name (the form would ask the same question twice)."""
    ids: dict[str, str] = {}
    names: dict[str, _Field | _Group] = {}
    for e in entries:
        el = e.element
        if el.id in ids:
            raise FimImportError(
                f"{where}: {el.id} „{el.name}“ steht zweimal in derselben Struktur. Jedes "
                "Element darf in einer Datenfeldgruppe nur einmal vorkommen (mehrfach: über "
                "die Anzahl).",
                f'{where}: {el.id} "{el.name}" is listed twice in the same structure. Each '
                "element may occur only once in a field group (several times: through the "
                "multiplicity).",
                element=el.id,
            )
        ids[el.id] = el.name
        name = _norm(el.name).casefold()
        if name and name in names:
            first = names[name]
            raise FimImportError(
                f"{where}: {first.id} und {el.id} tragen denselben Namen „{first.name}“. "
                "Namen müssen innerhalb einer Datenfeldgruppe eindeutig sein.",
                f'{where}: {first.id} and {el.id} have the same name "{first.name}". Names must '
                "be unique within a field group.",
                element=el.id,
            )
        if name:
            names[name] = el


# --- reading the XML ------------------------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


class _Reader:
    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.version = VERSIONS[ns]
        self.notes: list[ImportNote] = []
        # (kind, id, version) -> (signature, element): inline repetitions are read once
        self._seen: dict[tuple[str, str, str | None], tuple[Any, Any]] = {}

    # helpers

    def note(self, element: str, de: str, en: str) -> None:
        self.notes.append(ImportNote("warning", element, Text(de=de, en=en)))

    def _is(self, el: Element, name: str) -> bool:
        tag = el.tag if isinstance(el.tag, str) else ""
        return _local(tag) == name and (tag.startswith("{" + self.ns + "}") or "}" not in tag)

    def children(self, el: Element, name: str) -> list[Element]:
        return [c for c in el if self._is(c, name)]

    def child(self, el: Element, name: str) -> Element | None:
        found = self.children(el, name)
        return found[0] if found else None

    def text(self, el: Element, name: str) -> str:
        c = self.child(el, name)
        return _norm("".join(c.itertext())) if c is not None else ""

    def code(self, el: Element | None) -> str:
        """A code value: ``<feldart listURI=…><code>select</code></feldart>`` or plain text."""
        if el is None:
            return ""
        inner = next((c for c in el if _local(c.tag) == "code"), None)
        return _norm(inner.text if inner is not None else el.text).lower()

    def signature(self, el: Element, nested: bool = False) -> Any:
        """Content of an element for comparing repetitions; with ``nested``, contained fields
        and groups count by their identification only (they are compared on their own)."""
        tag = _local(el.tag)
        if nested and tag in ("datenfeld", "datenfeldgruppe"):
            return (tag, self.ident_soft(el))
        return (
            tag,
            tuple(sorted(el.attrib.items())),
            _norm(el.text),
            tuple(self.signature(c, nested=True) for c in el if isinstance(c.tag, str)),
        )

    def ident_soft(self, el: Element) -> tuple[str, str | None]:
        ident = self.child(el, "identifikation")
        if ident is None:
            return ("", None)
        return (self.text(ident, "id"), self.text(ident, "version") or None)

    def ident(self, el: Element, what_de: str, what_en: str, where: str) -> tuple[str, str | None]:
        fim_id, version = self.ident_soft(el)
        if not fim_id:
            name = self.text(el, "name")
            named = f" „{name}“" if name else ""
            named_en = f' "{name}"' if name else ""
            raise FimImportError(
                f"{what_de}{named} in {where} hat keine Identifikation "
                "(xdf:identifikation/xdf:id).",
                f"{what_en}{named_en} in {where} has no identification "
                "(xdf:identifikation/xdf:id).",
                element=where,
            )
        return fim_id, version

    def once(self, kind: str, el: Element, key: tuple[str, str | None], build):
        """Read an element that may repeat inline; a repetition must have the same content."""
        sig = self.signature(el)
        seen = self._seen.get((kind, *key))
        if seen is not None:
            if seen[0] != sig:
                label = {"datenfeld": "Datenfeld", "datenfeldgruppe": "Datenfeldgruppe"}.get(
                    kind, "Regel"
                )
                label_en = {"datenfeld": "data field", "datenfeldgruppe": "field group"}.get(
                    kind, "rule"
                )
                version = f" Version {key[1]}" if key[1] else ""
                raise FimImportError(
                    f"{label} {key[0]}{version} kommt mehrfach mit unterschiedlichem Inhalt vor. "
                    "Gleiche Identifikation muss gleichen Inhalt haben.",
                    f"{label_en} {key[0]}{version} occurs more than once with different content. "
                    "The same identification must have the same content.",
                    element=key[0],
                )
            return seen[1]
        obj = build()
        self._seen[(kind, *key)] = (sig, obj)
        return obj

    # elements

    def rules(self, el: Element, where: str) -> list[_Rule]:
        found = []
        for r in self.children(el, "regel"):
            key = self.ident(r, "Eine Regel", "A rule", where)

            def build(r=r, key=key) -> _Rule:
                text = (
                    self.text(r, "freitextRegel")
                    or self.text(r, "definition")
                    or self.text(r, "beschreibung")
                )
                script = self.text(r, "script") or self.text(r, "skript")
                return _Rule(key[0], key[1], self.text(r, "name"), text, bool(script))

            found.append(self.once("regel", r, key, build))
        return found

    def field(self, el: Element, where: str) -> _Field:
        key = self.ident(el, "Ein Datenfeld", "A data field", where)
        return self.once("datenfeld", el, key, lambda: self._build_field(el, key))

    def _build_field(self, el: Element, key: tuple[str, str | None]) -> _Field:
        fim_id, version = key
        feldart = self.code(self.child(el, "feldart"))
        datentyp = self.code(self.child(el, "datentyp"))
        if not feldart and self.child(el, "feldart") is None:
            feldart = "input"
            self.note(
                fim_id,
                f"Datenfeld {fim_id} hat keine Feldart; angenommen wird „input“.",
                f'Data field {fim_id} has no field kind; "input" is assumed.',
            )
        if not datentyp and feldart == "input" and self.child(el, "datentyp") is None:
            datentyp = "text"
            self.note(
                fim_id,
                f"Datenfeld {fim_id} hat keinen Datentyp; angenommen wird „text“.",
                f'Data field {fim_id} has no data type; "text" is assumed.',
            )
        if feldart not in FELDARTEN:
            raise FimImportError(
                f"Datenfeld {fim_id}: unbekannte Feldart „{feldart or '(leer)'}“ "
                f"(bekannt: {', '.join(FELDARTEN)}).",
                f'Data field {fim_id}: unknown field kind "{feldart or "(empty)"}" '
                f"(known: {', '.join(FELDARTEN)}).",
                element=fim_id,
            )
        if feldart in ("input",) and datentyp not in DATENTYPEN:
            raise FimImportError(
                f"Datenfeld {fim_id}: unbekannter Datentyp „{datentyp or '(leer)'}“ "
                f"(bekannt: {', '.join(DATENTYPEN)}).",
                f'Data field {fim_id}: unknown data type "{datentyp or "(empty)"}" '
                f"(known: {', '.join(DATENTYPEN)}).",
                element=fim_id,
            )
        if datentyp and datentyp not in DATENTYPEN:  # select/label with an odd type
            raise FimImportError(
                f"Datenfeld {fim_id}: unbekannter Datentyp „{datentyp}“.",
                f'Data field {fim_id}: unknown data type "{datentyp}".',
                element=fim_id,
            )
        praez, unreadable = self.praezisierung(self.child(el, "praezisierung"))
        code_ref = None
        ref = self.child(el, "codelisteReferenz")
        if ref is not None:
            c_ident = self.child(ref, "identifikation")
            c_id = self.text(c_ident, "id") if c_ident is not None else ""
            gc = self.child(ref, "genericodeIdentification")
            holder = gc if gc is not None else ref  # 2.0 wraps the URIs, 3.0 does not
            uri = self.text(holder, "canonicalVersionUri") or self.text(
                holder, "canonicalIdentification"
            )
            version_text = self.text(holder, "version")
            if uri and version_text and not self.text(holder, "canonicalVersionUri"):
                uri = f"{uri}_{version_text}"
            code_ref = _CodeRef(
                c_id or None,
                uri,
                canonical=self.text(holder, "canonicalIdentification"),
                version=version_text,
                code_key=self.text(el, "codeKey"),
                name_key=self.text(el, "nameKey"),
            )
        values = None
        werte = self.child(el, "werte")
        if werte is not None:
            values = []
            for w in self.children(werte, "wert"):
                code = self.text(w, "code")
                if code:
                    values.append((code, self.text(w, "name") or code))
            _refuse_duplicate_codes([c for c, _ in values], f"Datenfeld {fim_id}", fim_id)
        return _Field(
            id=fim_id,
            version=version,
            name=self.text(el, "name"),
            label=self.text(el, "bezeichnungEingabe") or self.text(el, "name") or fim_id,
            hint=self.text(el, "hilfetextEingabe"),
            content=self.text(el, "inhalt"),
            feldart=feldart,
            datentyp=datentyp,
            praezisierung=praez,
            praezisierung_unreadable=unreadable,
            code_ref=code_ref,
            values=values,
            rules=self.rules(el, fim_id),
        )

    def praezisierung(self, el: Element | None) -> tuple[dict[str, Any], str]:
        """3.0: attributes minLength=… ; 2.0: a JSON string {"minLength":"1",…}."""
        if el is None:
            return {}, ""
        found: dict[str, Any] = dict(el.attrib)
        raw = _norm(el.text)
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                found.update(parsed)
            else:
                return found, raw
        return found, ""

    def group(self, el: Element, where: str, depth: int) -> _Group:
        key = self.ident(el, "Eine Datenfeldgruppe", "A field group", where)
        if depth > MAX_GROUP_DEPTH:
            raise FimImportError(
                f"Datenfeldgruppe {key[0]}: zu tief verschachtelt (mehr als {MAX_GROUP_DEPTH} "
                "Ebenen).",
                f"Field group {key[0]}: nested too deeply (more than {MAX_GROUP_DEPTH} levels).",
                element=key[0],
            )

        def build() -> _Group:
            g = _Group(
                id=key[0],
                version=key[1],
                name=self.text(el, "name"),
                label=self.text(el, "bezeichnungEingabe") or self.text(el, "name") or key[0],
                hint=self.text(el, "hilfetextEingabe"),
                rules=self.rules(el, key[0]),
            )
            g.children = self.structure(el, key[0], depth)
            return g

        sig = self.signature(el)
        seen = self._seen.get(("datenfeldgruppe", *key))
        if seen is None:  # guard against a group containing itself while it is being built
            self._seen[("datenfeldgruppe", *key)] = (sig, None)
            try:
                obj = build()
            except BaseException:
                del self._seen[("datenfeldgruppe", *key)]
                raise
            self._seen[("datenfeldgruppe", *key)] = (sig, obj)
            return obj
        if seen[1] is None:
            raise FimImportError(
                f"Datenfeldgruppe {key[0]} enthält sich selbst.",
                f"Field group {key[0]} contains itself.",
                element=key[0],
            )
        return self.once("datenfeldgruppe", el, key, build)

    def structure(self, el: Element, where: str, depth: int) -> list[_Entry]:
        entries = []
        for st in self.children(el, "struktur"):
            anzahl = self.text(st, "anzahl")
            m = re.fullmatch(r"(\d+)\s*:\s*(\d+|\*)", anzahl)
            if not m:
                raise FimImportError(
                    f"{where}: xdf:struktur hat keine gültige Anzahl „{anzahl}“ "
                    "(erwartet zum Beispiel 0:1, 1:1 oder 0:*).",
                    f'{where}: xdf:struktur has no valid multiplicity "{anzahl}" '
                    "(expected e.g. 0:1, 1:1 or 0:*).",
                    element=where,
                )
            low = int(m.group(1))
            high = None if m.group(2) == "*" else int(m.group(2))
            if high is not None and (high < low or high == 0):
                raise FimImportError(
                    f"{where}: xdf:struktur hat eine unmögliche Anzahl „{anzahl}“.",
                    f'{where}: xdf:struktur has an impossible multiplicity "{anzahl}".',
                    element=where,
                )
            contains = self.child(st, "enthaelt")
            inner = [
                c
                for c in (contains if contains is not None else [])
                if self._is(c, "datenfeld") or self._is(c, "datenfeldgruppe")
            ]
            if len(inner) != 1:
                raise FimImportError(
                    f"{where}: xdf:struktur/xdf:enthaelt muss genau ein Datenfeld oder eine "
                    "Datenfeldgruppe enthalten.",
                    f"{where}: xdf:struktur/xdf:enthaelt must contain exactly one data field "
                    "or field group.",
                    element=where,
                )
            c = inner[0]
            element = (
                self.field(c, where)
                if self._is(c, "datenfeld")
                else self.group(c, where, depth + 1)
            )
            entries.append(_Entry(low, high, element))
        _refuse_duplicate_siblings(entries, where)
        return entries


def _parse(data: bytes | str) -> Element:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, bytes | bytearray):
        raise FimImportError("Keine Datei übergeben.", "No file given.")
    if len(data) > MAX_BYTES:
        raise FimImportError(
            f"Die Datei ist zu groß (höchstens {MAX_BYTES // (1024 * 1024)} MB).",
            f"The file is too large (at most {MAX_BYTES // (1024 * 1024)} MB).",
        )
    if not data.strip():
        raise FimImportError("Die Datei ist leer.", "The file is empty.")
    try:
        root = SafeET.fromstring(
            bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise FimImportError(
            "Die Datei enthält eine Dokumenttyp-Deklaration (DOCTYPE). Das ist in XDatenfelder "
            "nicht vorgesehen und wird aus Sicherheitsgründen abgelehnt.",
            "The file contains a document type declaration (DOCTYPE). XDatenfelder does not use "
            "one, and it is refused for security reasons.",
        ) from None
    except defusedxml.EntitiesForbidden:
        raise FimImportError(
            "Die Datei deklariert XML-Entitäten. Das wird aus Sicherheitsgründen abgelehnt.",
            "The file declares XML entities. This is refused for security reasons.",
        ) from None
    except defusedxml.DefusedXmlException:
        raise FimImportError(
            "Die Datei enthält unzulässige XML-Konstrukte und wird aus Sicherheitsgründen "
            "abgelehnt.",
            "The file contains forbidden XML constructs and is refused for security reasons.",
        ) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise FimImportError(
            f"Die Datei ist kein gültiges XML (Zeile {line}, Spalte {column + 1}).",
            f"The file is not well-formed XML (line {line}, column {column + 1}).",
        ) from None
    # Bound the work before walking the tree recursively.
    count = 0
    stack = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        count += 1
        if depth > MAX_XML_DEPTH or count > MAX_ELEMENTS:
            raise FimImportError(
                "Die Datei ist zu tief verschachtelt oder zu umfangreich.",
                "The file is nested too deeply or is too large.",
            )
        stack.extend((c, depth + 1) for c in el)
    return root


# --- mapping onto a form definition ---------------------------------------------------------

_TRANSLIT = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue", "ẞ": "ss"}
)


def slugify(text: str) -> str:
    """ "Straße und Hausnummer" -> "strasse_und_hausnummer"; "" when nothing is left."""
    text = text.translate(_TRANSLIT)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if len(slug) > MAX_ID_LENGTH:
        slug = slug[:MAX_ID_LENGTH].rstrip("_")
    return slug if re.fullmatch(r"[a-z][a-z0-9_]*", slug) else ""


def _unique(base: str, taken: set[str], parent: str = "") -> str:
    candidates = [base]
    if parent and not base.startswith(parent + "_"):
        candidates.append(f"{parent}_{base}"[: MAX_ID_LENGTH + 8])
    for c in candidates:
        if c not in taken:
            taken.add(c)
            return c
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    taken.add(f"{base}_{n}")
    return f"{base}_{n}"


def _int(value: Any) -> int | None:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


_RADIO_MAX = 7  # choices with more options are a select list

# Private keys on the mapped dicts that say where each FIM element went (read by the rules,
# removed before the definition is returned).
_FIM, _IN, _GATE = "_fim", "_in", "_gate_of"


def _and(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return {"and": [*(a["and"] if isinstance(a, dict) and "and" in a else [a]), b]}


def _not(cond: Any) -> Any:
    if isinstance(cond, dict) and len(cond) == 1:
        ((op, arg),) = cond.items()
        flipped = {"==": "!=", "!=": "==", "!": None}.get(op, "")
        if flipped is None:
            return arg
        if flipped:
            return {flipped: arg}
    return {"!": cond}


def _strip(node: Any) -> None:
    if isinstance(node, dict):
        for key in (_FIM, _IN, _GATE):
            node.pop(key, None)
        for value in node.values():
            _strip(value)
    elif isinstance(node, list):
        for item in node:
            _strip(item)


# --- simple FIM rules as conditions ---------------------------------------------------------
# Every rule is prose (freitextRegel, 2.0 definition). Those of the one shape
#   WENN F… ['Name'] = | != Wert ['Bezeichnung'], DANN <aktiviere|blende aus|ist Pflicht> F…/G…
# become show_if / required conditions; anything else (several conditions, calculations,
# checks, counts) stays a note for the administrator.

_Q = r"(?:'[^']*'|\"[^\"]*\"|„[^“”]*[“”]|‚[^‘’]*[‘’]|\([^)]*\))"
_RULE_RE = re.compile(
    rf"^wenn\s+(?P<src>F\d+)(?:\s*{_Q})?\s*"
    r"(?P<op>==|=|!=|≠|<>|ist\s+ungleich|ist\s+nicht|ungleich|ist\s+gleich|ist)\s*"
    rf"(?P<value>{_Q}|[^\s,'\"„‚(]+)(?:\s*{_Q})?\s*,?\s*dann\s+(?P<then>.+?)\.?$",
    re.IGNORECASE | re.DOTALL,
)
_NEGATING = ("!=", "≠", "<>", "ungleich", "nicht")
_HIDE = ("deaktivier", "ausblend", "ausgeblendet", "nicht angezeigt", "nicht anzeig", "verberg")
_SHOW = ("aktivier", "anzeig", "angezeigt", "einblend", "eingeblendet", "sichtbar", "abgefragt")
_REQUIRE = ("pflicht", "muss", "müssen", "auszufüllen", "anzugeben", "erforderlich")
_COMPLEX = (
    "wenn",
    "sonst",
    "oder",
    "nicht pflicht",
    "keine pflicht",
    "optional",
    "darf nicht",
    "muss nicht",
    "berechn",
    "summe",
    "höchstens",
    "genau",
    "prüf",
)
_YES = {"ja", "true", "wahr", "1", "yes"}
_NO = {"nein", "false", "falsch", "0", "no"}


@dataclass(frozen=True)
class SimpleRule:
    source: str  # F…
    negated: bool  # "is not"
    value: str  # as written, quotes removed
    targets: tuple[str, ...]  # F… / G…
    show: bool  # asked only when the condition holds
    hide: bool  # asked only when it does not hold
    require: bool  # required when the condition holds


def parse_rule(text: str) -> SimpleRule | None:
    """The one simple shape a rule's text may have to become a condition, else None."""
    m = _RULE_RE.match(" ".join(text.split()))
    if not m:
        return None
    then = m.group("then")
    targets = tuple(dict.fromkeys(re.findall(r"\b([FG]\d+)\b", then)))
    words = re.sub(_Q, " ", then).casefold()
    if not targets or any(w in words for w in _COMPLEX) or re.search(r"mindestens\s+\d", words):
        return None
    hide = any(w in words for w in _HIDE) or bool(re.search(r"\bblende\b.*\baus\b", words))
    show = not hide and any(w in words for w in _SHOW)
    require = any(w in words for w in _REQUIRE)
    if (hide and require) or not (hide or show or require):
        return None
    value = m.group("value").strip("'\"„“”‚‘’()").strip()
    op = m.group("op").casefold()
    return SimpleRule(
        source=m.group("src").upper(),
        negated=any(n in op for n in _NEGATING),
        value=value,
        targets=targets,
        show=show,
        hide=hide,
        require=require,
    )


def _has_mandatory(g: _Group) -> bool:
    """Whether a group asks something as mandatory (min >= 1), directly or in a mandatory
    nested group."""
    for e in g.children:
        el = e.element
        if e.min < 1:
            continue
        if isinstance(el, _Field):
            if el.feldart not in ("label", "hidden", "locked"):
                return True
        elif e.repeats or _has_mandatory(el):
            return True
    return False


class _Mapper:
    def __init__(self, version: str, supplied: list[CodeList] | None = None) -> None:
        self.version = version
        self.notes: list[ImportNote] = []
        self.code_lists: dict[str, list[dict[str, Any]]] = {}
        self._code_list_of: dict[Any, str] = {}
        self._rules_seen: set[tuple[str, str | None]] = set()
        self.pending_rules: list[_Rule] = []
        self._noted: set[tuple[str, str]] = set()
        self.field_ids: set[str] = set()  # top-level field ids, unique across the form
        self.step_ids: set[str] = set()
        self.supplied = list(supplied or [])
        self.used_lists: set[int] = set()  # indexes into supplied

    def note(self, level: Level, element: str, de: str, en: str, once: str = "") -> None:
        # A field reused in several places is mapped several times: report it once.
        key = (element, once or de)
        if key in self._noted:
            return
        self._noted.add(key)
        self.notes.append(ImportNote(level, element, Text(de=de, en=en)))

    def rules(self, rules: list[_Rule]) -> None:
        """Collect the rules met while mapping; ``apply_rules`` turns them into conditions or
        notes once every field has its place."""
        for r in rules:
            if (r.id, r.version) in self._rules_seen:
                continue
            self._rules_seen.add((r.id, r.version))
            self.pending_rules.append(r)

    def rule_note(self, r: _Rule, reason: tuple[str, str] | None = None) -> None:
        name = f" „{r.name}“" if r.name else ""
        name_en = f' "{r.name}"' if r.name else ""
        script_de = " (Das Skript der Regel wird nicht übernommen.)" if r.has_script else ""
        script_en = " (The rule's script is not imported.)" if r.has_script else ""
        why_de = f" Nicht als Bedingung übernommen: {reason[0]}" if reason else ""
        why_en = f" Not imported as a condition: {reason[1]}" if reason else ""
        text = r.text or "(ohne Text)"
        self.note(
            "info",
            r.id,
            f"Regel{name}: {text} – bitte als Bedingung oder Prüfung nachbilden, "
            f"falls nötig.{why_de}{script_de}",
            f"Rule{name_en}: {r.text or '(no text)'} – recreate it as a condition or check "
            f"if needed.{why_en}{script_en}",
        )

    def apply_rules(self, steps: list[dict[str, Any]]) -> None:
        # Where everything went: position of each mapped dict in asking order.
        pos: dict[int, tuple[int, int, int]] = {}
        by_fim: dict[str, list[dict[str, Any]]] = {}
        steps_of: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        inline_of: dict[str, list[dict[str, Any]]] = {}
        gate_of: dict[str, list[dict[str, Any]]] = {}
        for si, step in enumerate(steps):
            if step.get(_FIM):
                steps_of.setdefault(step[_FIM], []).append((si, step))
            for fi, d in enumerate(step["fields"]):
                for ki, sub in enumerate([d, *d.get("fields", [])]):
                    pos[id(sub)] = (si, fi, ki - 1)
                    if sub.get(_FIM):
                        by_fim.setdefault(sub[_FIM], []).append(sub)
                    for gid in sub.get(_IN, []):
                        inline_of.setdefault(gid, []).append(sub)
                    if sub.get(_GATE):
                        gate_of.setdefault(sub[_GATE], []).append(sub)
        for r in self.pending_rules:
            rule = parse_rule(r.text) if r.text else None
            if rule is None:
                self.rule_note(r)
                continue
            problem = self._apply(rule, pos, by_fim, steps_of, inline_of, gate_of)
            if problem:
                self.rule_note(r, problem)
                continue
            name = f" „{r.name}“" if r.name else ""
            name_en = f' "{r.name}"' if r.name else ""
            script_de = " Das Skript der Regel wird nicht übernommen." if r.has_script else ""
            script_en = " The rule's script is not imported." if r.has_script else ""
            self.note(
                "info",
                r.id,
                f"Regel{name}: {r.text} – als Bedingung übernommen (an "
                f"{', '.join(rule.targets)}). Bitte prüfen.{script_de}",
                f"Rule{name_en}: {r.text} – imported as a condition (on "
                f"{', '.join(rule.targets)}). Please check it.{script_en}",
            )

    def _apply(self, rule: SimpleRule, pos, by_fim, steps_of, inline_of, gate_of):
        """Set the rule's conditions, or return why not (German, English) and change nothing."""
        sources = by_fim.get(rule.source, [])
        if len(sources) != 1:
            return (
                f"das Feld {rule.source} wurde nicht genau einmal übernommen.",
                f"the field {rule.source} was not imported exactly once.",
            )
        src = sources[0]
        cond = self._condition(src, rule)
        if isinstance(cond, tuple):
            return cond
        src_pos = pos[id(src)]
        changes: list[tuple[dict[str, Any], str, Any]] = []

        def after(d: dict[str, Any]) -> bool:
            p = pos[id(d)]
            if src_pos[2] >= 0:  # the source is inside a repeatable group: only its own fields
                return p[:2] == src_pos[:2] and p[2] > src_pos[2]
            return p[:2] > src_pos[:2]

        def on_field(d: dict[str, Any]) -> None:
            if rule.show or rule.hide:
                changes.append((d, "show_if", cond if rule.show else _not(cond)))
            if rule.require and d.get("type") != "info":
                changes.append((d, "required", True if rule.show else cond))

        late = (
            f"{rule.source} wird nicht vor allen Zielen gefragt (Bedingungen dürfen nur frühere "
            "Antworten lesen).",
            f"{rule.source} is not asked before every target (conditions may only read earlier "
            "answers).",
        )
        for target in rule.targets:
            fields = by_fim.get(target, [])
            steps = steps_of.get(target, [])
            members = inline_of.get(target, [])
            gates = gate_of.get(target, [])
            if fields:
                if not all(after(d) for d in fields):
                    return late
                for d in fields:
                    on_field(d)
            elif steps:
                if rule.require or src_pos[2] >= 0 or any(si <= src_pos[0] for si, _ in steps):
                    return (
                        f"{target} ist ein eigener Schritt; er kann nur von einer Antwort eines "
                        "früheren Schritts abhängen und nicht als Ganzes Pflicht werden.",
                        f"{target} is a step of its own; it can only depend on an answer of an "
                        "earlier step and cannot be required as a whole.",
                    )
                for _, step in steps:
                    changes.append((step, "show_if", cond if rule.show else _not(cond)))
            elif members:
                if rule.require:
                    return (
                        f"die Datenfeldgruppe {target} ist in den Schritt eingebettet; ihre "
                        "Pflichtfelder lassen sich nicht gemeinsam bedingt verlangen.",
                        f"the field group {target} is embedded in the step; its mandatory fields "
                        "cannot be required together on a condition.",
                    )
                if not all(after(d) for d in members):
                    return late
                for d in gates or [m for m in members if not m.get(_GATE)]:
                    on_field(d)  # the gate hides the group's other fields
            else:
                return (
                    f"das Ziel {target} wurde nicht übernommen.",
                    f"the target {target} was not imported.",
                )
        for d, key, value in changes:
            if key == "show_if":
                d["show_if"] = _and(d.get("show_if"), value)
            elif d.get("required") is not True or value is True:
                d["required"] = value
        return None

    def _condition(self, src: dict[str, Any], rule: SimpleRule) -> Any:
        kind = src.get("type")
        var = src["id"]
        value: Any
        if kind == "yesno":
            word = rule.value.casefold()
            if word not in _YES | _NO:
                return (
                    f"„{rule.value}“ ist keine Ja/Nein-Antwort.",
                    f'"{rule.value}" is not a yes/no answer.',
                )
            value = word in _YES
        elif kind in ("choice", "multichoice"):
            options = self.code_lists.get(src.get("options", ""), [])
            codes = {o["value"] for o in options}
            by_label = {o["label"]["de"].casefold(): o["value"] for o in options}
            value = rule.value if rule.value in codes else by_label.get(rule.value.casefold())
            if value is None:
                return (
                    f"„{rule.value}“ ist kein Wert der Auswahl von {rule.source}.",
                    f'"{rule.value}" is not a value of the choice {rule.source}.',
                )
        else:
            return (
                f"{rule.source} ist keine Ja/Nein- oder Auswahlfrage.",
                f"{rule.source} is not a yes/no or choice question.",
            )
        if kind == "multichoice":
            cond: Any = {"in": [value, {"var": [var, []]}]}
            return _not(cond) if rule.negated else cond
        return {"!=" if rule.negated else "==": [{"var": var}, value]}

    # structure

    def schema(self, entries: list[_Entry]) -> list[dict[str, Any]]:
        """One step per top-level group; fields directly under the schema form steps of
        their own at their place, so the schema's order is kept."""
        steps: list[dict[str, Any]] = []
        run: list[_Entry] = []

        def flush() -> None:
            if not run:
                return
            first = not steps
            base = "allgemein" if first else "weitere_angaben"
            title = "Allgemeine Angaben" if first else "Weitere Angaben"
            step_id = _unique(base, self.step_ids)
            fields = self.inline(list(run), "", True, "")
            if fields:
                steps.append({"id": step_id, "title": {"de": title}, "fields": fields})
                names = ", ".join(f"„{e.element.label}“" for e in run)
                names_en = ", ".join(f'"{e.element.label}"' for e in run)
                self.note(
                    "info",
                    "",
                    f"{names} {'steht' if len(run) == 1 else 'stehen'} direkt im Schema, nicht "
                    f"in einer Datenfeldgruppe; übernommen in den Schritt „{title}“ an "
                    "derselben Stelle.",
                    f"{names_en} {'is' if len(run) == 1 else 'are'} directly in the schema, not "
                    f'in a field group; imported into the step "{title}" at the same place.',
                )
            run.clear()

        for e in entries:
            g = e.element
            if not isinstance(g, _Group):
                run.append(e)
                continue
            flush()
            self.rules(g.rules)
            step_id = _unique(slugify(g.name) or slugify(g.label) or g.id.lower(), self.step_ids)
            if e.repeats:
                fields = [f for f in [self.repeatable(e, True, "")] if f]
            else:
                fields = self.gated(
                    g,
                    e,
                    True,
                    self.field_ids,
                    step_id,
                    lambda req, g=g, step_id=step_id: self.inline(g.children, "", req, step_id),
                )
            if not fields:
                self.note(
                    "error",
                    g.id,
                    f"Datenfeldgruppe „{g.label}“ enthält nichts, was sich übernehmen lässt; "
                    "kein Schritt angelegt.",
                    f'Field group "{g.label}" contains nothing that can be imported; '
                    "no step created.",
                )
                continue
            step: dict[str, Any] = {"id": step_id, "title": {"de": g.label}}
            if g.hint:
                step["intro"] = {"de": g.hint}
            step["fields"] = fields
            if not e.repeats:
                step[_FIM] = g.id
            steps.append(step)
        flush()
        return steps

    def gated(self, g: _Group, e: _Entry, required: bool, ids: set[str], parent: str, make):
        """The fields of a non-repeating group (``make(required)``). An optional group (0:1)
        with mandatory fields is asked through a yes/no question first: its fields are shown,
        and its mandatory ones required, once the citizen answers "yes"."""
        if e.min >= 1 or not _has_mandatory(g):
            return make(required and e.min >= 1)
        gate_id = _unique(f"{slugify(g.name) or slugify(g.label) or g.id.lower()}_angaben", ids)
        gate: dict[str, Any] = {
            "id": gate_id,
            "type": "yesno",
            "label": {"de": f"Möchten Sie Angaben zu „{g.label}“ machen?"},
            _GATE: g.id,
        }
        if required:
            gate["required"] = True
        members = make(True)
        for d in members:
            if d.get("show_if") is None:
                d["show_if"] = {"==": [{"var": gate_id}, True]}
        if not members:
            return []
        self.note(
            "info",
            g.id,
            f"Datenfeldgruppe „{g.label}“ ist optional (Anzahl {e.min}:1) und hat Pflichtfelder: "
            f"übernommen mit einer Ja/Nein-Frage davor ({gate_id}); bei „Ja“ werden ihre Felder "
            "gefragt und ihre Pflichtfelder verlangt.",
            f'Field group "{g.label}" is optional ({e.min}:1) and has mandatory fields: imported '
            f'with a yes/no question before it ({gate_id}); when answered "yes" its fields are '
            "asked and its mandatory fields required.",
        )
        return [gate, *members]

    def inline(
        self, entries: list[_Entry], prefix: str, required: bool, parent: str
    ) -> list[dict[str, Any]]:
        """Fields of a step: nested non-repeating groups are inlined with their name."""
        out: list[dict[str, Any]] = []
        for e in entries:
            el = e.element
            if isinstance(el, _Field):
                f = self.field(e, prefix, required, self.field_ids, parent, in_group=False)
                if f:
                    f[_FIM] = el.id
                    out.append(f)
            elif e.repeats:
                f = self.repeatable(e, required, prefix)
                if f:
                    out.append(f)
            else:
                self.rules(el.rules)
                inner_parent = slugify(el.name) or slugify(el.label) or parent
                members = self.gated(
                    el,
                    e,
                    required,
                    self.field_ids,
                    parent,
                    lambda req, el=el, p=inner_parent: self.inline(
                        el.children, f"{prefix}{el.label}: ", req, p
                    ),
                )
                for d in members:
                    d[_IN] = [el.id, *d.get(_IN, [])]
                out.extend(members)
        return out

    def repeatable(self, e: _Entry, required: bool, prefix: str) -> dict[str, Any] | None:
        g = e.element
        assert isinstance(g, _Group)
        self.rules(g.rules)
        inner_ids: set[str] = set()
        hints: list[str] = []
        fields = self.group_fields(g.children, "", True, inner_ids, hints, g)
        if not fields:
            self.note(
                "error",
                g.id,
                f"Wiederholbare Datenfeldgruppe „{g.label}“ enthält keine übernehmbaren Felder; "
                "nicht übernommen.",
                f'Repeatable field group "{g.label}" contains no importable fields; not imported.',
            )
            return None
        group_id = _unique(slugify(g.name) or slugify(g.label) or g.id.lower(), self.field_ids)
        d = self._group_def(group_id, g, e, required, prefix, fields, hints)
        d[_FIM] = g.id
        return d

    def _group_def(
        self,
        group_id: str,
        g: _Group | _Field,
        e: _Entry,
        required: bool,
        prefix: str,
        fields: list[dict[str, Any]],
        hints: list[str],
    ) -> dict[str, Any]:
        max_items = MAX_ITEMS if e.max is None else min(e.max, MAX_ITEMS)
        if e.max is None or e.max > MAX_ITEMS:
            often_de = "beliebig oft" if e.max is None else f"bis zu {e.max}-mal"
            often_en = "any number of times" if e.max is None else f"up to {e.max} times"
            self.note(
                "warning" if e.max is not None else "info",
                g.id,
                f"„{g.label}“ darf {often_de} vorkommen; übernommen werden höchstens "
                f"{MAX_ITEMS} Einträge.",
                f'"{g.label}" may occur {often_en}; at most {MAX_ITEMS} entries are imported.',
            )
        need = required and e.min >= 1
        d: dict[str, Any] = {
            "id": group_id,
            "type": "group",
            "label": {"de": prefix + g.label},
            "item_label": {"de": g.label},
        }
        own = g.hint if isinstance(g, _Group) else ""  # a wrapped field keeps its own hint
        hint = " ".join([own, *hints]).strip()
        if hint:
            d["hint"] = {"de": hint}
        if need:
            d["required"] = True
        d["min_items"] = min(e.min, max_items) if need else 0
        d["max_items"] = max_items
        d["fields"] = fields
        return d

    def group_fields(
        self,
        entries: list[_Entry],
        prefix: str,
        required: bool,
        ids: set[str],
        hints: list[str],
        top: _Group,
    ) -> list[dict[str, Any]]:
        """Fields of a repeatable group: plain fields only; nested groups are flattened."""
        out: list[dict[str, Any]] = []
        for e in entries:
            el = e.element
            if isinstance(el, _Field):
                if el.feldart == "label":
                    text = el.content or el.label
                    if text:
                        hints.append(text)
                    self.note(
                        "info",
                        el.id,
                        f"Hinweistext „{el.label}“ in der wiederholbaren Gruppe „{top.label}“ "
                        "wird als Hinweis der Gruppe übernommen.",
                        f'Label "{el.label}" in the repeatable group "{top.label}" is imported '
                        "as the group's hint.",
                    )
                    self.rules(el.rules)
                    continue
                f = self.field(e, prefix, required, ids, slugify(top.name), in_group=True)
                if f:
                    f[_FIM] = el.id
                    out.append(f)
                continue
            self.rules(el.rules)
            self.note(
                "warning",
                el.id,
                f"Datenfeldgruppe „{el.label}“ liegt in der wiederholbaren Gruppe „{top.label}“; "
                "eine Gruppe in einer Gruppe kann das Formular nicht darstellen, ihre Felder "
                "werden in die äußere Gruppe eingeebnet"
                + (
                    f" und nur einmal je Eintrag abgefragt (Anzahl {e.min}:{e.max or '*'})."
                    if e.repeats
                    else "."
                ),
                f'Field group "{el.label}" is inside the repeatable group "{top.label}"; the form '
                "cannot show a group inside a group, its fields are flattened into the outer group"
                + (
                    f" and asked only once per entry ({e.min}:{e.max or '*'})."
                    if e.repeats
                    else "."
                ),
            )
            label = f"{prefix}{el.label}: "
            if e.repeats:
                members = self.group_fields(
                    el.children, label, required and e.min >= 1, ids, hints, top
                )
            else:
                members = self.gated(
                    el,
                    e,
                    required,
                    ids,
                    slugify(top.name),
                    lambda req, el=el, label=label: self.group_fields(
                        el.children, label, req, ids, hints, top
                    ),
                )
            for d in members:
                d[_IN] = [el.id, *d.get(_IN, [])]
            out.extend(members)
        return out

    # fields

    def field(
        self,
        e: _Entry,
        prefix: str,
        required: bool,
        ids: set[str],
        parent: str,
        in_group: bool,
    ) -> dict[str, Any] | None:
        f = e.element
        assert isinstance(f, _Field)
        self.rules(f.rules)
        need = required and e.min >= 1
        label = prefix + f.label

        if f.feldart in ("hidden", "locked"):
            self.note(
                "info",
                f.id,
                f"Datenfeld „{f.label}“ (Feldart {f.feldart}) wird nicht abgefragt und daher "
                "nicht übernommen.",
                f'Data field "{f.label}" (field kind {f.feldart}) is not asked and therefore '
                "not imported.",
                once="skipped",
            )
            return None
        base = slugify(f.name) or slugify(f.label) or f.id.lower()
        if not slugify(f.name) and not slugify(f.label):
            self.note(
                "info",
                f.id,
                f"Datenfeld {f.id}: aus dem Namen ließ sich keine Kennung bilden; verwendet wird "
                "die FIM-Kennung.",
                f"Data field {f.id}: no identifier could be made from the name; the FIM id is "
                "used.",
                once="id",
            )
        if f.feldart == "label":
            text = f.content or f.label
            return {"id": _unique(base, ids, parent), "type": "info", "label": {"de": text}}

        d: dict[str, Any] = {"id": "", "type": "text", "label": {"de": label}}
        if f.hint:
            d["hint"] = {"de": f.hint}
        if need:
            d["required"] = True

        if f.feldart == "select":
            ok = self.choice(f, e, d)
            if ok and d["type"] == "multichoice":
                d["id"] = _unique(base, ids, parent)
                return d
        else:
            if not self.typed(f, d):
                return None
            self.precision(f, d)
            if d["type"] == "file":
                if e.repeats:
                    d["max_files"] = MAX_ITEMS if e.max is None else min(e.max, MAX_ITEMS)
                if in_group:
                    self.note(
                        "error",
                        f.id,
                        f"Datenfeld „{f.label}“ ist ein Datei-Upload in einer wiederholbaren "
                        "Gruppe; das ist nicht möglich, das Feld wird nicht übernommen.",
                        f'Data field "{f.label}" is a file upload inside a repeatable group; '
                        "that is not possible, the field is not imported.",
                    )
                    return None
                d["id"] = _unique(base, ids, parent)
                return d

        if e.repeats:
            if in_group:
                self.note(
                    "warning",
                    f.id,
                    f"Datenfeld „{f.label}“ darf mehrfach vorkommen; in einer wiederholbaren "
                    "Gruppe wird es nur einmal je Eintrag abgefragt.",
                    f'Data field "{f.label}" may occur several times; inside a repeatable group '
                    "it is asked once per entry.",
                )
            else:
                # A repeating single field: a repeatable group with that one field.
                inner = dict(d)
                inner["id"] = base
                inner["label"] = {"de": f.label}
                inner["required"] = True
                self.note(
                    "info",
                    f.id,
                    f"Datenfeld „{f.label}“ darf mehrfach vorkommen; übernommen als "
                    "wiederholbare Gruppe mit diesem einen Feld.",
                    f'Data field "{f.label}" may occur several times; imported as a repeatable '
                    "group with this one field.",
                )
                group_id = _unique(base, ids, parent)
                return self._group_def(group_id, f, e, required, prefix, [inner], [])
        d["id"] = _unique(base, ids, parent)
        return d

    def choice(self, f: _Field, e: _Entry, d: dict[str, Any]) -> bool:
        """A select: its values from the file (3.0 ``werte``) or from a genericode code list
        uploaded with it; without values a text field, with a note naming the code list."""
        ref = f.code_ref
        supplied = self.find_list(f) if ref and not f.values else None
        if f.values or supplied:
            if f.values:
                name = self.code_list(("werte", f.id, f.version), f.name, f.label, f.id, f.values)
                source_de = "aus der Datei"
                source_en = "from the file"
            else:
                cl = supplied
                pairs = cl.options(ref.code_key, ref.name_key)
                _refuse_duplicate_codes([c for c, _ in pairs], f"Codeliste {cl.source}", cl.source)
                name = self.code_list(
                    ("genericode", cl.name, ref.code_key, ref.name_key),
                    cl.short_name or f.name,
                    f.label,
                    f.id,
                    pairs,
                )
                source_de = f"aus der hochgeladenen Datei {cl.source}"
                source_en = f"from the uploaded file {cl.source}"
                for key, what in ((ref.code_key, "codeKey"), (ref.name_key, "nameKey")):
                    if key and key not in cl.columns:
                        self.note(
                            "warning",
                            f.id,
                            f"Auswahlfeld „{f.label}“: die Spalte {what} = „{key}“ fehlt in der "
                            f"Codeliste {cl.name}; verwendet wird die Standardspalte.",
                            f'Choice field "{f.label}": the column {what} = "{key}" is missing '
                            f"in code list {cl.name}; the default column is used.",
                        )
            d["type"] = "multichoice" if e.repeats else "choice"
            d["options"] = name
            count = len(self.code_lists[name])
            if d["type"] == "choice" and count > _RADIO_MAX:
                d["widget"] = "select"
            if ref or supplied:
                self.note(
                    "info",
                    f.id,
                    f"Auswahlfeld „{f.label}“: {count} Werte {source_de} "
                    f"(Codeliste {ref.uri or ref.id if ref else ''}).",
                    f'Choice field "{f.label}": {count} values {source_en} '
                    f"(code list {ref.uri or ref.id if ref else ''}).",
                )
            return True
        if ref:
            ident = ref.id or ref.uri or "?"
            uri = f" ({ref.uri})" if ref.uri and ref.id else ""
            self.note(
                "warning",
                f.id,
                f"Auswahlfeld „{f.label}“ verweist auf die Codeliste {ident}{uri}, die nicht "
                "mitgeliefert wurde. Es wurde als Textfeld übernommen; laden Sie die Codeliste "
                "(genericode) zusammen mit dem Schema hoch, oder legen Sie eine Codeliste mit den "
                "Werten an und stellen Sie das Feld auf „choice“ um.",
                f'Choice field "{f.label}" refers to code list {ident}{uri}, which was not '
                "supplied. It was imported as a text field; upload the code list (genericode) "
                "together with the schema, or add a code list with the values and change the "
                'field to "choice".',
            )
        else:
            self.note(
                "warning",
                f.id,
                f"Auswahlfeld „{f.label}“ hat weder Werte noch eine Codeliste. Es wurde als "
                "Textfeld übernommen.",
                f'Choice field "{f.label}" has neither values nor a code list. It was imported '
                "as a text field.",
            )
        d["type"] = "text"
        return False

    def find_list(self, f: _Field) -> CodeList | None:
        """The uploaded code list a field refers to: same version URI, else the same list in
        another version when exactly one was uploaded (with a warning)."""
        ref = f.code_ref
        assert ref is not None
        for index, cl in enumerate(self.supplied):
            if ref.uri and ref.uri in (
                cl.canonical_version_uri,
                f"{cl.canonical_uri}_{cl.version}",
            ):
                self.used_lists.add(index)
                return cl
        canonical = ref.canonical or ref.uri
        same = [(i, cl) for i, cl in enumerate(self.supplied) if cl.canonical_uri == canonical]
        if len(same) != 1:
            return None
        index, cl = same[0]
        self.used_lists.add(index)
        self.note(
            "warning",
            f.id,
            f"Auswahlfeld „{f.label}“ verweist auf die Codeliste {canonical} in Version "
            f"„{ref.version or '?'}“; hochgeladen ist Version „{cl.version or '?'}“ "
            f"({cl.source}), sie wird verwendet. Bitte prüfen.",
            f'Choice field "{f.label}" refers to code list {canonical} in version '
            f'"{ref.version or "?"}"; version "{cl.version or "?"}" was uploaded ({cl.source}) '
            "and is used. Please check.",
        )
        return cl

    def unused_lists(self) -> None:
        for index, cl in enumerate(self.supplied):
            if index not in self.used_lists:
                self.note(
                    "info",
                    cl.name,
                    f"Die Codeliste {cl.name} ({cl.source}) wurde hochgeladen, aber von keinem "
                    "Feld des Schemas verwendet.",
                    f"The code list {cl.name} ({cl.source}) was uploaded but no field of the "
                    "schema uses it.",
                )

    def code_list(
        self, key: Any, name: str, label: str, fim_id: str, pairs: list[tuple[str, str]]
    ) -> str:
        """The definition's code list for these values (one per list, however many fields
        use it); duplicate codes were refused when the values were read."""
        if key in self._code_list_of:
            return self._code_list_of[key]
        options = [{"value": code, "label": {"de": text}} for code, text in pairs]
        list_name = _unique(slugify(name) or slugify(label) or fim_id.lower(), set(self.code_lists))
        self.code_lists[list_name] = options
        self._code_list_of[key] = list_name
        return list_name

    def typed(self, f: _Field, d: dict[str, Any]) -> bool:
        """Set the type of an input field from its Datentyp; False: not mapped."""
        t = f.datentyp
        if t in ("text", "text_latin", ""):
            d["type"] = "text"
            if t == "text_latin":
                self.note(
                    "info",
                    f.id,
                    f"Datenfeld „{f.label}“ verlangt lateinische Zeichen (DIN 91379); diese "
                    "Prüfung wird nicht übernommen.",
                    f'Data field "{f.label}" requires Latin characters (DIN 91379); this check is '
                    "not imported.",
                )
        elif t == "date":
            d["type"] = "date"
            d["not_future"] = False
        elif t in ("time", "datetime"):
            d["type"] = "text"
            d["max_length"] = 5 if t == "time" else 16
            what = ("eine Uhrzeit", "time") if t == "time" else ("ein Zeitpunkt", "date and time")
            self.note(
                "warning",
                f.id,
                f"Datenfeld „{f.label}“ ist {what[0]} ({t}); dafür gibt es keinen Feldtyp, "
                "es wurde als Textfeld übernommen.",
                f'Data field "{f.label}" is a {what[1]} ({t}); there is no field type for it, '
                "it was imported as a text field.",
            )
        elif t == "bool":
            d["type"] = "yesno"
        elif t in _NUMBER_TYPES:
            d["type"] = _NUMBER_TYPES[t]
        elif t == "file":
            d["type"] = "file"
        else:  # obj
            self.note(
                "error",
                f.id,
                f"Datenfeld „{f.label}“ hat den Datentyp „{t}“ (Objekt); er lässt sich nicht "
                "abbilden, das Feld wird nicht übernommen.",
                f'Data field "{f.label}" has the data type "{t}" (object); it cannot be mapped, '
                "the field is not imported.",
            )
            return False
        return True

    def precision(self, f: _Field, d: dict[str, Any]) -> None:
        p = f.praezisierung
        kind = d["type"]
        if f.praezisierung_unreadable:
            self.note(
                "warning",
                f.id,
                f"Datenfeld „{f.label}“: die Präzisierung „{f.praezisierung_unreadable}“ ist "
                "nicht lesbar und wird nicht übernommen.",
                f'Data field "{f.label}": the precision "{f.praezisierung_unreadable}" cannot be '
                "read and is not imported.",
            )
        max_length = _int(p["maxLength"]) if "maxLength" in p else None
        if (
            "maxLength" in p
            and kind in ("text", "textarea")
            and f.datentyp != "time"
            and (f.datentyp != "datetime")
        ):
            if max_length is not None and max_length >= 1:
                d["max_length"] = max_length
                if max_length > TEXTAREA_FROM:
                    d["type"] = "textarea"
            else:
                self.note(
                    "warning",
                    f.id,
                    f"Datenfeld „{f.label}“: maxLength „{p['maxLength']}“ ist keine gültige Länge.",
                    f'Data field "{f.label}": maxLength "{p["maxLength"]}" is not a valid length.',
                )
        min_length = _int(p["minLength"]) if "minLength" in p else None
        if min_length is not None and min_length > 1:
            self.note(
                "warning",
                f.id,
                f"Datenfeld „{f.label}“: Mindestlänge {min_length} wird nicht unterstützt und "
                "nicht übernommen.",
                f'Data field "{f.label}": minimum length {min_length} is not supported and not '
                "imported.",
            )
        for key, target in (("minValue", "min"), ("maxValue", "max")):
            if key not in p or str(p[key]).strip() == "":
                continue
            value = _int(p[key])
            if kind in ("integer", "decimal", "money") and value is not None:
                d[target] = value
            else:
                self.note(
                    "warning",
                    f.id,
                    f"Datenfeld „{f.label}“: die Grenze {key} = „{p[key]}“ lässt sich nicht "
                    "abbilden (nur ganzzahlige Grenzen bei Zahlenfeldern) und wird nicht "
                    "übernommen.",
                    f'Data field "{f.label}": the bound {key} = "{p[key]}" cannot be mapped '
                    "(only whole-number bounds on number fields) and is not imported.",
                )
        if p.get("pattern"):
            self.note(
                "warning",
                f.id,
                f"Datenfeld „{f.label}“: das Muster (pattern) „{p['pattern']}“ wird noch nicht "
                "unterstützt und nicht geprüft.",
                f'Data field "{f.label}": the pattern "{p["pattern"]}" is not supported yet and '
                "not checked.",
            )
        if d.get("min") is not None and d.get("max") is not None and d["min"] > d["max"]:
            self.note(
                "warning",
                f.id,
                f"Datenfeld „{f.label}“: minValue ist größer als maxValue; beide Grenzen "
                "werden verworfen.",
                f'Data field "{f.label}": minValue is larger than maxValue; both bounds are '
                "dropped.",
            )
            del d["min"], d["max"]


# --- entry point ----------------------------------------------------------------------------


def import_xdatenfelder(
    data: bytes, source: str = "upload", code_lists: list[CodeList] | None = None
) -> ImportResult:
    """Map an XDatenfelder 2.0 or 3.0 Stammdatenschema (or field-group message) onto a draft
    form definition, with the genericode ``code_lists`` uploaded with it
    (``forms.fim_bundle.import_bundle`` reads them). Raises FimImportError for broken or
    hostile input."""
    root = _parse(data)
    tag = root.tag if isinstance(root.tag, str) else ""
    ns = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    local = _local(tag)
    if ns not in VERSIONS:
        raise FimImportError(
            f"{source}: unbekannter Namensraum „{ns or '(keiner)'}“ am Wurzelelement „{local}“. "
            f"Erwartet wird XDatenfelder 2 ({NS_V2}) oder 3 ({NS_V3}).",
            f'{source}: unknown namespace "{ns or "(none)"}" on the root element "{local}". '
            f"Expected XDatenfelder 2 ({NS_V2}) or 3 ({NS_V3}).",
        )
    reader = _Reader(ns)
    if re.fullmatch(r"xdatenfelder\.stammdatenschema\.\d{4}", local):
        kind, kind_de, kind_en = "stammdatenschema", "Stammdatenschema", "master data schema"
    elif re.fullmatch(r"xdatenfelder\.datenfeldgruppe\.\d{4}", local):
        kind, kind_de, kind_en = "datenfeldgruppe", "Datenfeldgruppe", "field group"
    else:
        raise FimImportError(
            f"{source}: das Wurzelelement „{local}“ ist keine XDatenfelder-Nachricht mit einem "
            "Stammdatenschema oder einer Datenfeldgruppe.",
            f'{source}: the root element "{local}" is not an XDatenfelder message with a master '
            "data schema or field group.",
        )
    schema = reader.child(root, kind)
    if schema is None:
        raise FimImportError(
            f"{source}: die Nachricht enthält kein Element xdf:{kind}.",
            f"{source}: the message contains no xdf:{kind} element.",
        )
    schema_id, schema_version = reader.ident(schema, f"Das {kind_de}", f"The {kind_en}", source)
    name = reader.text(schema, "name") or schema_id
    title = reader.text(schema, "bezeichnung") or reader.text(schema, "bezeichnungEingabe") or name
    schema_rules = reader.rules(schema, schema_id)
    entries = reader.structure(schema, schema_id, 0)

    mapper = _Mapper(reader.version, code_lists)
    mapper.notes.extend(reader.notes)
    version_text = f" Version {schema_version}" if schema_version else ""
    mapper.note(
        "info",
        schema_id,
        f"Importiert aus XDatenfelder {reader.version}, {kind_de} {schema_id}{version_text} "
        f"„{name}“. Bitte den Entwurf prüfen, bevor er veröffentlicht wird.",
        f"Imported from XDatenfelder {reader.version}, {kind_en} {schema_id}{version_text} "
        f'"{name}". Check the draft before publishing it.',
    )
    mapper.rules(schema_rules)
    steps = mapper.schema(entries)
    mapper.apply_rules(steps)
    mapper.unused_lists()
    _strip(steps)
    if not steps:
        raise FimImportError(
            f"{source}: {kind_de} {schema_id} enthält keine Felder, die sich übernehmen lassen.",
            f"{source}: {kind_en} {schema_id} contains no fields that can be imported.",
            element=schema_id,
        )
    if any(
        f.get("type") == "date"
        for s in steps
        for g in s["fields"]
        for f in [g, *g.get("fields", [])]
    ):
        mapper.note(
            "info",
            "",
            "Datumsfelder lassen auch Daten in der Zukunft zu (not_future: false). Für "
            "Geburtsdaten bitte not_future entfernen.",
            "Date fields accept dates in the future (not_future: false). For dates of birth, "
            "remove not_future.",
        )
    definition: dict[str, Any] = {
        "id": slugify(name) or f"fim_{schema_id.lower()}",
        "version": 1,
        "title": {"de": title},
    }
    if mapper.code_lists:
        definition["code_lists"] = mapper.code_lists
    definition["steps"] = steps
    return ImportResult(
        definition=definition,
        report=mapper.notes,
        version=reader.version,
        schema_id=schema_id,
        schema_version=schema_version,
        name=name,
    )
