"""The files of one FIM import: an XDatenfelder schema plus the genericode code lists it
references, uploaded as several files or as one zip archive.

Pure: (name, bytes) pairs in, an ``ImportResult`` out (``forms.fim``). An archive is read in
memory, never extracted to disk, within limits on the number of entries, each entry's size and
the total, with every entry's real size counted while reading (the sizes an archive declares
can lie); entries with absolute paths or ``..`` are refused, encrypted ones too. Each XML file
is told apart by its root element: exactly one XDatenfelder message, any number of code lists.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable

from forms.fim import (
    MAX_BYTES,
    NS_V2,
    NS_V3,
    FimImportError,
    ImportResult,
    _parse,
    import_xdatenfelder,
)
from forms.genericode import CodeList, is_genericode, parse_code_list

MAX_FILES = 200  # files in one import (uploaded or inside the archive)
MAX_TOTAL_BYTES = 20 * 1024 * 1024  # all files together, unpacked
ZIP_MAGIC = b"PK\x03\x04"

# Steps of an import, reported through ``progress(index)`` (German, English).
STAGES: tuple[tuple[str, str], ...] = (
    ("Dateien lesen", "Reading the files"),
    ("Codelisten lesen", "Reading the code lists"),
    ("Schema lesen und abbilden", "Reading and mapping the schema"),
    ("Ergebnis prüfen", "Checking the result"),
)

Progress = Callable[[int], None]


def _mb(n: int) -> int:
    return n // (1024 * 1024)


def _too_big(name: str) -> FimImportError:
    return FimImportError(
        f"{name}: die Datei ist zu groß (höchstens {_mb(MAX_BYTES)} MB je Datei).",
        f"{name}: the file is too large (at most {_mb(MAX_BYTES)} MB per file).",
        element=name,
    )


def _unzip(name: str, data: bytes, total: list[int]) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise FimImportError(
            f"{name}: das ZIP-Archiv ist beschädigt oder kein ZIP-Archiv.",
            f"{name}: the ZIP archive is damaged or not a ZIP archive.",
            element=name,
        ) from None
    if len(infos) > MAX_FILES:
        raise FimImportError(
            f"{name}: das Archiv enthält mehr als {MAX_FILES} Einträge.",
            f"{name}: the archive has more than {MAX_FILES} entries.",
            element=name,
        )
    found: list[tuple[str, bytes]] = []
    for info in infos:
        entry = info.filename
        parts = entry.replace("\\", "/").split("/")
        if entry.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise FimImportError(
                f"{name}: der Eintrag „{entry}“ hat einen unzulässigen Pfad (absolut oder mit "
                "„..“) und wird aus Sicherheitsgründen abgelehnt.",
                f'{name}: the entry "{entry}" has a forbidden path (absolute or with "..") and is '
                "refused for security reasons.",
                element=name,
            )
        if info.is_dir():
            continue
        base = posixpath.basename(entry.replace("\\", "/"))
        if base.startswith(".") or entry.startswith("__MACOSX/"):
            continue  # metadata of the packing system, not content
        if info.flag_bits & 0x1:
            raise FimImportError(
                f"{name}: der Eintrag „{entry}“ ist verschlüsselt.",
                f'{name}: the entry "{entry}" is encrypted.',
                element=name,
            )
        if not base.lower().endswith(".xml"):
            raise FimImportError(
                f"{name}: der Eintrag „{entry}“ ist keine XML-Datei. Das Archiv darf nur das "
                "Schema und Codelisten (XML) enthalten.",
                f'{name}: the entry "{entry}" is not an XML file. The archive may only hold the '
                "schema and code lists (XML).",
                element=name,
            )
        if info.file_size > MAX_BYTES:
            raise _too_big(f"{name}/{entry}")
        try:
            with archive.open(info) as stream:
                content = stream.read(MAX_BYTES + 1)  # the declared size may lie
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError):
            raise FimImportError(
                f"{name}: der Eintrag „{entry}“ lässt sich nicht entpacken.",
                f'{name}: the entry "{entry}" cannot be unpacked.',
                element=name,
            ) from None
        if len(content) > MAX_BYTES:
            raise _too_big(f"{name}/{entry}")
        total[0] += len(content)
        if total[0] > MAX_TOTAL_BYTES:
            raise _too_much()
        found.append((f"{name}/{entry}", content))
    return found


def _too_much() -> FimImportError:
    return FimImportError(
        f"Die Dateien sind zusammen zu groß (höchstens {_mb(MAX_TOTAL_BYTES)} MB, entpackt).",
        f"The files are too large together (at most {_mb(MAX_TOTAL_BYTES)} MB, unpacked).",
    )


def expand(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The uploaded files with every zip archive replaced by its XML entries."""
    if not files:
        raise FimImportError("Keine Datei übergeben.", "No file given.")
    total = [0]
    out: list[tuple[str, bytes]] = []
    for name, data in files:
        if data[:4] == ZIP_MAGIC:
            out.extend(_unzip(name, data, total))
        else:
            if len(data) > MAX_BYTES:
                raise _too_big(name)
            total[0] += len(data)
            if total[0] > MAX_TOTAL_BYTES:
                raise _too_much()
            out.append((name, data))
        if len(out) > MAX_FILES:
            raise FimImportError(
                f"Zu viele Dateien (höchstens {MAX_FILES}).",
                f"Too many files (at most {MAX_FILES}).",
            )
    return out


def import_bundle(files: list[tuple[str, bytes]], progress: Progress | None = None) -> ImportResult:
    """Import one schema with its code lists. Raises FimImportError for broken input, for no
    or several schemas, and for two code lists with the same identification."""
    step = progress or (lambda _index: None)
    step(0)
    expanded = expand(files)
    schemas: list[tuple[str, bytes]] = []
    lists: list[tuple[str, bytes]] = []
    for name, data in expanded:
        try:
            root = _parse(data)  # refuses broken and hostile XML
        except FimImportError as exc:
            raise FimImportError(
                f"{name}: {exc.message.de}", f"{name}: {exc.message.en}", element=name
            ) from None
        tag = root.tag if isinstance(root.tag, str) else ""
        if is_genericode(tag):
            lists.append((name, data))
        elif tag.startswith(("{" + NS_V2 + "}", "{" + NS_V3 + "}")) or len(expanded) == 1:
            schemas.append((name, data))  # a lone file goes to the schema reader's messages
        else:
            raise FimImportError(
                f"{name}: weder ein XDatenfelder-Schema noch eine genericode-Codeliste "
                f"(Wurzelelement „{tag}“).",
                f"{name}: neither an XDatenfelder schema nor a genericode code list (root element "
                f'"{tag}").',
                element=name,
            )
    if len(schemas) != 1:
        names = ", ".join(n for n, _ in schemas)
        raise FimImportError(
            "Es muss genau ein XDatenfelder-Schema dabei sein"
            + (f"; gefunden: {names}." if schemas else "; gefunden wurden nur Codelisten."),
            "There must be exactly one XDatenfelder schema"
            + (f"; found: {names}." if schemas else "; only code lists were found."),
        )
    step(1)
    code_lists: list[CodeList] = []
    by_uri: dict[str, CodeList] = {}
    for name, data in lists:
        cl = parse_code_list(data, name)
        key = cl.canonical_version_uri or f"{cl.canonical_uri}_{cl.version}"
        if key in by_uri:
            raise FimImportError(
                f"Die Codeliste {key} wurde zweimal hochgeladen ({by_uri[key].source} und "
                f"{name}). Bitte nur eine davon hochladen.",
                f"The code list {key} was uploaded twice ({by_uri[key].source} and {name}). "
                "Upload only one of them.",
                element=key,
            )
        by_uri[key] = cl
        code_lists.append(cl)
    step(2)
    name, data = schemas[0]
    result = import_xdatenfelder(data, name, code_lists=code_lists)
    step(3)
    return result
