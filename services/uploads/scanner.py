"""Virus scanning for uploads: a small interface and its ClamAV implementation.

``VirusScanner`` is the interface the upload service depends on; ``scanner_from_address``
turns the configured address into an implementation (or None when scanning is not
configured). Unit tests use a test double of their own.

``ClamdScanner`` talks to a running ClamAV daemon (clamd) over its socket with the
``zINSTREAM`` command: the content is sent in chunks, each prefixed with its length as a
4-byte big-endian integer, followed by a zero-length chunk; clamd answers
``stream: OK`` or ``stream: <Signature> FOUND`` (or ``... ERROR``), terminated by a NUL
byte. We speak this protocol directly with the socket module, because the Python clamd
clients on PyPI (``clamd``, ``pyclamd``) have been unmaintained since 2018-2019 and the
protocol is a few dozen lines.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

_CHUNK = 64 * 1024
_MAX_REPLY = 64 * 1024


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    signature: str | None = None  # the name of the signature that matched


class VirusScanner(Protocol):
    def scan(self, content: bytes) -> ScanResult: ...


class ScannerError(Exception):
    """The content could not be scanned: callers must not treat it as clean."""


class ScannerUnavailable(ScannerError):
    """The scanner could not be reached or did not answer in time."""


class ScanFailed(ScannerError):
    """The scanner answered with an error (for example the stream size limit)."""


class ClamdScanner:
    """A clamd reached at ``unix:/path/to/clamd.ctl`` or ``tcp:host:port``."""

    def __init__(self, address: str, timeout: float = 30) -> None:
        scheme, _, rest = address.partition(":")
        if scheme == "unix" and rest:
            self._family, self._target = socket.AF_UNIX, rest
        elif scheme == "tcp" and rest:
            host, _, port = rest.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"clamd address {address!r}: expected tcp:host:port")
            self._family, self._target = socket.AF_INET, (host.strip("[]"), int(port))
        else:
            raise ValueError(
                f"clamd address {address!r}: expected unix:/path/to/clamd.ctl or tcp:host:port"
            )
        self.address = address
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ClamdScanner({self.address!r})"

    def _connect(self) -> socket.socket:
        try:
            if self._family == socket.AF_UNIX:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                try:
                    sock.connect(self._target)
                except BaseException:
                    sock.close()
                    raise
                return sock
            return socket.create_connection(self._target, timeout=self.timeout)
        except OSError as exc:
            raise ScannerUnavailable(f"cannot connect to clamd at {self.address}: {exc}") from exc

    def _read_reply(self, sock: socket.socket) -> str:
        data = b""
        while not data.endswith(b"\0") and len(data) < _MAX_REPLY:
            try:
                part = sock.recv(4096)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from exc
            if not part:
                break
            data += part
        if not data:
            raise ScannerUnavailable(f"clamd at {self.address} closed without answering")
        return data.rstrip(b"\0").decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        """Whether clamd answers ``PING`` with ``PONG``."""
        with self._connect() as sock:
            try:
                sock.sendall(b"zPING\0")
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from exc
            return self._read_reply(sock) == "PONG"

    def scan(self, content: bytes) -> ScanResult:
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                view = memoryview(content)
                for start in range(0, len(content), _CHUNK):
                    chunk = view[start : start + _CHUNK]
                    sock.sendall(struct.pack(">I", len(chunk)))
                    sock.sendall(chunk)
                sock.sendall(struct.pack(">I", 0))
            except (BrokenPipeError, ConnectionResetError) as exc:
                # clamd closes the stream early on errors (size limit); its reply says why.
                try:
                    reply = self._read_reply(sock)
                except ScannerUnavailable:
                    raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from exc
                return self._parse(reply)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from exc
            return self._parse(self._read_reply(sock))

    def _parse(self, reply: str) -> ScanResult:
        if reply.endswith("ERROR"):
            raise ScanFailed(f"clamd at {self.address}: {reply}")
        _, _, verdict = reply.partition(": ")
        if verdict == "OK":
            return ScanResult(clean=True, signature=None)
        if verdict.endswith(" FOUND"):
            return ScanResult(clean=False, signature=verdict.removesuffix(" FOUND").strip())
        raise ScanFailed(f"clamd at {self.address}: unexpected reply {reply!r}")


# Scanner implementations by address scheme.
_SCHEMES: dict[str, Callable[[str], VirusScanner]] = {
    "unix": ClamdScanner,
    "tcp": ClamdScanner,
}


def scanner_from_address(address: str | None) -> VirusScanner | None:
    """The scanner configured by ``address`` (``unix:...`` or ``tcp:host:port``); None when
    no address is configured, which means uploads are stored unscanned."""
    if address is None or not address.strip():
        return None
    address = address.strip()
    scheme = address.partition(":")[0]
    factory = _SCHEMES.get(scheme)
    if factory is None:
        known = ", ".join(f"{s}:" for s in _SCHEMES)
        raise ValueError(f"virus scanner address {address!r}: unknown scheme (known: {known})")
    return factory(address)
