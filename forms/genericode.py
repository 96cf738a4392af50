"""Read an OASIS genericode 1.0 code list (the format of the FIM and XÖV code lists in
XRepository) into codes and labels.

Pure: bytes in, a ``CodeList`` out; a broken file is refused with ``FimImportError`` naming
the file and the problem. Only the root element is namespaced in genericode 1.0 (its children
are unqualified), but some producers qualify them all, so children are matched by local name.

Which column holds the code and which the label: the field that uses the list may say so
(XDatenfelder 3 ``codeKey`` and ``nameKey``); otherwise the code is the column of the first
key (``ColumnSet/Key/ColumnRef``) and the label the first other column, as the FIM tools do.
"""

from __future__ import annotations

from dataclasses import dataclass

from forms.fim import FimImportError, _local, _norm, _parse, _refuse_duplicate_codes

NS_GENERICODE = "http://docs.oasis-open.org/codelist/ns/genericode/1.0/"


@dataclass(frozen=True)
class CodeList:
    source: str  # file name, for messages
    short_name: str
    long_name: str
    version: str
    canonical_uri: str
    canonical_version_uri: str
    columns: tuple[str, ...]  # column ids in order
    key_column: str  # the first key's column
    rows: tuple[dict[str, str], ...]  # column id -> value

    @property
    def name(self) -> str:
        return self.canonical_version_uri or self.canonical_uri or self.short_name

    def options(self, code_key: str = "", name_key: str = "") -> list[tuple[str, str]]:
        """(code, label) pairs in the list's order; ``code_key``/``name_key`` pick columns."""
        code_col = code_key if code_key in self.columns else self.key_column
        others = [c for c in self.columns if c != code_col]
        name_col = name_key if name_key in self.columns else (others[0] if others else code_col)
        return [(r[code_col], r.get(name_col) or r[code_col]) for r in self.rows]


def is_genericode(root_tag: str) -> bool:
    return root_tag == "{" + NS_GENERICODE + "}CodeList"


def _kids(el, name: str) -> list:
    return [c for c in el if _local(c.tag) == name]


def _kid(el, name: str):
    found = _kids(el, name)
    return found[0] if found else None


def _text(el, name: str) -> str:
    c = _kid(el, name) if el is not None else None
    return _norm("".join(c.itertext())) if c is not None else ""


def _refuse(source: str, de: str, en: str) -> FimImportError:
    return FimImportError(f"Codeliste {source}: {de}", f"Code list {source}: {en}", element=source)


def parse_code_list(data: bytes, source: str) -> CodeList:
    root = _parse(data)
    tag = root.tag if isinstance(root.tag, str) else ""
    if not is_genericode(tag):
        raise _refuse(
            source,
            f"das Wurzelelement „{_local(tag)}“ ist keine genericode-Codeliste "
            f"(erwartet gc:CodeList im Namensraum {NS_GENERICODE}).",
            f'the root element "{_local(tag)}" is not a genericode code list '
            f"(expected gc:CodeList in the namespace {NS_GENERICODE}).",
        )
    ident = _kid(root, "Identification")
    canonical_uri = _text(ident, "CanonicalUri")
    if ident is None or not canonical_uri:
        raise _refuse(
            source,
            "Identification/CanonicalUri fehlt; ohne sie lässt sich die Liste keinem Feld "
            "zuordnen.",
            "Identification/CanonicalUri is missing; without it the list cannot be matched to a "
            "field.",
        )
    column_set = _kid(root, "ColumnSet")
    columns: list[str] = []
    for col in _kids(column_set, "Column") if column_set is not None else []:
        col_id = col.get("Id", "").strip()
        if not col_id:
            raise _refuse(source, "eine Spalte hat keine Id.", "a column has no Id.")
        if col_id in columns:
            raise _refuse(
                source,
                f"die Spalten-Id „{col_id}“ kommt doppelt vor.",
                f'the column id "{col_id}" occurs twice.',
            )
        columns.append(col_id)
    if not columns:
        raise _refuse(source, "ColumnSet enthält keine Spalten.", "ColumnSet has no columns.")
    key_column = ""
    for key in _kids(column_set, "Key"):
        ref = _kid(key, "ColumnRef")
        if ref is not None and ref.get("Ref", "").strip():
            key_column = ref.get("Ref", "").strip()
            break
    if key_column and key_column not in columns:
        raise _refuse(
            source,
            f"der Schlüssel verweist auf die unbekannte Spalte „{key_column}“.",
            f'the key refers to the unknown column "{key_column}".',
        )
    key_column = key_column or columns[0]
    body = _kid(root, "SimpleCodeList")
    if body is None:
        raise _refuse(source, "SimpleCodeList fehlt.", "SimpleCodeList is missing.")
    rows: list[dict[str, str]] = []
    for number, row in enumerate(_kids(body, "Row"), start=1):
        values: dict[str, str] = {}
        for position, value in enumerate(_kids(row, "Value")):
            col = value.get("ColumnRef", "").strip() or (
                columns[position] if position < len(columns) else ""
            )
            if col not in columns:
                raise _refuse(
                    source,
                    f"Zeile {number} verweist auf die unbekannte Spalte „{col or '?'}“.",
                    f'row {number} refers to the unknown column "{col or "?"}".',
                )
            values[col] = _text(value, "SimpleValue")
        if not values.get(key_column):
            raise _refuse(
                source,
                f"Zeile {number} hat keinen Code (Spalte „{key_column}“).",
                f'row {number} has no code (column "{key_column}").',
            )
        rows.append(values)
    if not rows:
        raise _refuse(source, "die Liste enthält keine Zeilen.", "the list has no rows.")
    code_list = CodeList(
        source=source,
        short_name=_text(ident, "ShortName"),
        long_name=_text(ident, "LongName"),
        version=_text(ident, "Version"),
        canonical_uri=canonical_uri,
        canonical_version_uri=_text(ident, "CanonicalVersionUri"),
        columns=tuple(columns),
        key_column=key_column,
        rows=tuple(rows),
    )
    _refuse_duplicate_codes([r[key_column] for r in rows], f"Codeliste {source}", source)
    return code_list
