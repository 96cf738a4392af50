"""The ClamAV scanner against a real clamd (Debian package clamav-daemon), started here with a
database that holds one signature of our own for the EICAR test string: the official
virus database cannot be downloaded on this machine, and the test does not need it."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest

from services.cases.service import start_draft
from services.procedures.registry import get
from services.uploads import service as uploads
from services.uploads.scanner import (
    ClamdScanner,
    ScanFailed,
    ScannerUnavailable,
    ScanResult,
    scanner_from_address,
)
from services.uploads.service import SlotRules, UploadRejected

CLAMD = Path("/usr/sbin/clamd")
SIGNATURE_NAME = "Amtsweg.Test.EICAR"
STREAM_LIMIT = 1024 * 1024  # clamd's StreamMaxLength in this test configuration

# The EICAR anti-virus test string, kept in two halves so this file is no test virus itself.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def pdf_bytes() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(72, 72)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="session")
def clamd_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A clamd of our own on a Unix socket, with only the EICAR signature, for the session."""
    if not CLAMD.exists():
        raise RuntimeError(
            f"{CLAMD} not found: the virus scanner tests need ClamAV's daemon. Install the "
            "Debian package with `apt-get install -y --no-install-recommends clamav-daemon` "
            "(scripts/install-system-deps.sh)."
        )
    assert len(EICAR) == 68
    # Short path: Unix socket paths are limited to about 100 bytes.
    workdir = Path(tmp_path_factory.mktemp("clamd"))
    databases = workdir / "db"
    databases.mkdir()
    # An extended signature (.ndb: name:target:offset:hex) matches the string anywhere in a
    # file of any type, so it also finds EICAR inside a PDF.
    (databases / "amtsweg-test.ndb").write_text(f"{SIGNATURE_NAME}:0:*:{EICAR.hex()}\n")
    sock = workdir / "clamd.sock"
    log = workdir / "clamd.log"
    config = workdir / "clamd.conf"
    config.write_text(
        f"DatabaseDirectory {databases}\n"
        f"LocalSocket {sock}\n"
        f"LogFile {log}\n"
        "Foreground yes\n"
        f"StreamMaxLength {STREAM_LIMIT // 1024}K\n"
        "SelfCheck 0\n"
    )
    output = (workdir / "clamd.out").open("wb")
    process = subprocess.Popen(
        [str(CLAMD), f"--config-file={config}"],
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    address = f"unix:{sock}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"clamd exited with {process.returncode}:\n"
                    + (workdir / "clamd.out").read_text(errors="replace")
                    + (log.read_text(errors="replace") if log.exists() else "")
                )
            if sock.exists():
                try:
                    if ClamdScanner(address, timeout=5).ping():
                        break
                except ScannerUnavailable:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("clamd did not answer PING within 60 seconds")
            time.sleep(0.1)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


@pytest.fixture
def clamd(clamd_address: str) -> ClamdScanner:
    return ClamdScanner(clamd_address, timeout=10)


# --- against the real clamd -------------------------------------------------------------------


def test_clamd_answers_ping(clamd):
    assert clamd.ping() is True


def test_eicar_is_found(clamd):
    result = clamd.scan(EICAR)
    assert result.clean is False
    assert SIGNATURE_NAME in result.signature


def test_pdf_is_clean(clamd):
    assert clamd.scan(pdf_bytes()) == ScanResult(clean=True, signature=None)


def test_content_spanning_several_chunks(clamd):
    filler = b"%PDF-1.4\n" + b"0" * (64 * 1024 * 3 - 40)  # EICAR crosses a chunk boundary
    assert clamd.scan(filler).clean is True
    result = clamd.scan(filler + EICAR + b"\n%%EOF\n")
    assert result.clean is False and SIGNATURE_NAME in result.signature


def test_stream_over_clamds_limit_is_an_error_not_clean(clamd):
    with pytest.raises(ScanFailed, match="size limit"):
        clamd.scan(b"%PDF-1.4\n" + b"0" * (2 * STREAM_LIMIT))


def test_store_refuses_eicar_with_the_real_scanner(db, municipality, clamd_address):
    draft, _ = start_draft(db, municipality, get("dog_registration"), retention_days=30)
    scanner = scanner_from_address(clamd_address)
    infected_pdf = pdf_bytes() + EICAR + b"\n"
    with pytest.raises(UploadRejected) as info:
        uploads.store(
            db,
            municipality_id=municipality.id,
            draft_id=draft.id,
            slot="dangerous_permit_file",
            rules=SlotRules(),
            filename="erlaubnis.pdf",
            content=infected_pdf,
            scanner=scanner,
        )
    assert info.value.key == "infected"
    assert info.value.message.de.startswith(f"Die Datei enthält Schadsoftware ({SIGNATURE_NAME}")
    assert info.value.message.de.endswith(") und wurde nicht gespeichert.")
    assert uploads.for_draft(db, draft.id) == []
    clean = uploads.store(
        db,
        municipality_id=municipality.id,
        draft_id=draft.id,
        slot="dangerous_permit_file",
        rules=SlotRules(),
        filename="erlaubnis.pdf",
        content=pdf_bytes(),
        scanner=scanner,
    )
    assert clean.scan_status == "clean"


# --- addresses and unreachable scanners -------------------------------------------------------


def test_no_address_means_no_scanner():
    assert scanner_from_address(None) is None
    assert scanner_from_address("") is None
    assert scanner_from_address("  ") is None


def test_addresses_select_clamd():
    unix = scanner_from_address("unix:/run/clamav/clamd.ctl")
    tcp = scanner_from_address("tcp:clamav.internal:3310")
    assert isinstance(unix, ClamdScanner) and isinstance(tcp, ClamdScanner)
    assert tcp.address == "tcp:clamav.internal:3310"


@pytest.mark.parametrize(
    "address", ["http://clamav:3310", "clamav:3310", "tcp:clamav", "tcp:clamav:port", "unix:"]
)
def test_bad_addresses_are_refused(address):
    with pytest.raises(ValueError, match="address"):
        scanner_from_address(address)


def test_missing_socket_is_unavailable(tmp_path):
    scanner = ClamdScanner(f"unix:{tmp_path / 'nothing.sock'}", timeout=1)
    with pytest.raises(ScannerUnavailable):
        scanner.scan(b"%PDF-1.4")


def test_refused_tcp_connection_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(f"tcp:127.0.0.1:{port}", timeout=1).scan(b"%PDF-1.4")


def test_silent_scanner_times_out_as_unavailable(tmp_path):
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen(1)  # accepts into the backlog, never answers
        started = time.monotonic()
        with pytest.raises(ScannerUnavailable):
            ClamdScanner(f"unix:{path}", timeout=0.3).scan(b"%PDF-1.4")
        assert time.monotonic() - started < 5
    os.unlink(path)
