"""Which driver fits a device, found without credentials: the SSH identification string or a few unauthenticated
HTTP requests, matched against the fingerprints the drivers declare.

Each driver package may ship a ``fingerprint`` module registered in the entry-point group
``routerfix.fingerprints`` (name: the driver) whose target is a :class:`Fingerprint`. The core names no vendor.

Bounded and contained: only the given host and port(s) are contacted (no discovery, no redirect followed), every
connection and read has a short timeout and the whole run a deadline, nothing is sent that carries a secret, and
replies are only matched against patterns, never executed or followed. TLS certificates are not verified here,
because nothing secret is sent; the driver that connects later verifies as configured.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

__all__ = ["AUTO", "ENTRY_POINT_GROUP", "Confidence", "Detection", "DetectStatus", "Fingerprint", "HttpReply", "Match",
           "Observation", "Probe", "detect", "fingerprints", "match", "resolve_driver", "search"]

ENTRY_POINT_GROUP = "routerfix.fingerprints"
DEFAULT_PORTS = (22, 443, 80)
MAX_BODY = 64 * 1024
MAX_PROBES = 8


class Confidence(IntEnum):
    """How sure one match is (higher is surer)."""

    LOW = 1
    """A generic sign many platforms share (an OpenSSH banner)."""
    MEDIUM = 2
    """A vendor sign that another product could show (a login page title)."""
    HIGH = 3
    """A vendor-specific answer (a model and firmware from an unauthenticated status page)."""


class DetectStatus(StrEnum):
    IDENTIFIED = "identified"
    AMBIGUOUS = "ambiguous"
    UNKNOWN = "unknown"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Probe:
    """One unauthenticated HTTP request a fingerprint wants made (never with credentials)."""

    path: str = "/"
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""


@dataclass(frozen=True)
class HttpReply:
    probe: Probe
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: str
    """At most :data:`MAX_BODY` characters."""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class Observation:
    """What the device showed on one port."""

    host: str
    port: int
    ssh_banner: str | None = None
    scheme: str | None = None
    replies: tuple[HttpReply, ...] = ()

    def reply(self, path: str, method: str = "GET") -> HttpReply | None:
        return next((r for r in self.replies if r.probe.path == path and r.probe.method == method), None)

    def seen(self) -> list[str]:
        """A short account of what was seen (for "unknown")."""
        if self.ssh_banner is not None:
            return [f"port {self.port}: SSH identification {self.ssh_banner!r}"]
        lines = []
        for r in self.replies:
            server = r.header("server")
            extra = "".join(f", {n} {r.header(n)!r}" for n in ("www-authenticate", "location") if r.header(n))
            title = re.search(r"<title>([^<]{0,80})</title>", r.body, re.I)
            lines.append(f"port {self.port}: {self.scheme} {r.probe.method} {r.probe.path} -> {r.status}"
                         f"{f', Server {server!r}' if server else ''}{extra}"
                         f"{f', title {title.group(1).strip()!r}' if title else ''}")
        return lines or [f"port {self.port}: open, no SSH identification and no HTTP answer"]


@dataclass(frozen=True)
class Match:
    """One driver that fits, and why."""

    driver: str
    confidence: Confidence
    evidence: tuple[str, ...]
    model: str | None = None
    firmware: str | None = None
    port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"driver": self.driver, "confidence": self.confidence.name.lower(), "evidence": list(self.evidence),
                "model": self.model, "firmware": self.firmware, "port": self.port}


@dataclass(frozen=True)
class Fingerprint:
    """How one driver recognises its devices: regexes for the SSH identification string (with optional
    ``model``/``firmware`` groups) and/or unauthenticated HTTP probes with a matcher over their replies."""

    driver: str
    ssh: tuple[str, ...] = ()
    ssh_confidence: Confidence = Confidence.LOW
    ssh_evidence: str = "SSH identification"
    probes: tuple[Probe, ...] = ()
    http: Callable[[Observation], Match | None] | None = None

    def match_ssh(self, banner: str) -> Match | None:
        for pattern in self.ssh:
            found = re.match(pattern, banner)
            if found:
                groups = found.groupdict()
                return Match(self.driver, self.ssh_confidence, (f"{self.ssh_evidence}: {banner!r}",),
                             model=groups.get("model"), firmware=groups.get("firmware"))
        return None


@dataclass(frozen=True)
class Detection:
    host: str
    status: DetectStatus
    matches: tuple[Match, ...] = ()
    """Candidates, best first (only those at the best confidence when ambiguous or identified)."""
    seen: tuple[str, ...] = ()
    elapsed: float = 0.0

    @property
    def driver(self) -> str | None:
        """The driver, only when exactly one fits best."""
        return self.matches[0].driver if self.status is DetectStatus.IDENTIFIED else None

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "status": str(self.status), "driver": self.driver,
                "candidates": [m.to_dict() for m in self.matches], "seen": list(self.seen),
                "elapsed_s": round(self.elapsed, 3)}


def fingerprints() -> list[Fingerprint]:
    """Every installed driver's fingerprint (entry-point group :data:`ENTRY_POINT_GROUP`)."""
    from importlib.metadata import entry_points

    found: list[Fingerprint] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            fp = ep.load()
        except ImportError:
            continue  # a driver whose optional library is missing cannot be used either
        if isinstance(fp, Fingerprint):
            found.append(fp)
    return found


def match(observation: Observation, prints: Iterable[Fingerprint]) -> list[Match]:
    """Every fingerprint that fits ``observation``, best first."""
    found: list[Match] = []
    for fp in prints:
        hit: Match | None = None
        if observation.ssh_banner is not None:
            hit = fp.match_ssh(observation.ssh_banner)
        elif observation.replies and fp.http is not None:
            hit = fp.http(observation)
        if hit is not None:
            found.append(Match(hit.driver, hit.confidence, hit.evidence, hit.model, hit.firmware, observation.port))
    return sorted(found, key=lambda m: (-m.confidence, m.driver))


def detect(host: str, ports: Iterable[int] | None = None, *, timeout: float = 3.0, deadline: float = 15.0,
           prints: Iterable[Fingerprint] | None = None) -> Detection:
    """Fingerprint ``host`` on ``ports`` (default 22, 443, 80; the first that answers decides)."""
    started = time.monotonic()
    stop = started + deadline
    chosen = list(prints) if prints is not None else fingerprints()
    seen: list[str] = []
    for port in ports or DEFAULT_PORTS:
        left = stop - time.monotonic()
        if left <= 0:
            seen.append(f"stopped: the {deadline:g} s budget is spent")
            break
        observation = observe(host, port, timeout=min(timeout, left), stop=stop, prints=chosen)
        if observation is None:
            seen.append(f"port {port}: no answer")
            continue
        seen.extend(observation.seen())
        found = match(observation, chosen)
        elapsed = time.monotonic() - started
        if not found:
            return Detection(host, DetectStatus.UNKNOWN, (), tuple(seen), elapsed)
        best = [m for m in found if m.confidence == found[0].confidence]
        status = DetectStatus.IDENTIFIED if len(best) == 1 and best[0].confidence > Confidence.LOW \
            else DetectStatus.AMBIGUOUS
        return Detection(host, status, tuple(best), tuple(seen), elapsed)
    return Detection(host, DetectStatus.UNREACHABLE, (), tuple(seen), time.monotonic() - started)


def observe(host: str, port: int, *, timeout: float, stop: float, prints: list[Fingerprint]) -> Observation | None:
    """Connect once; an SSH server speaks first, otherwise ask HTTP(S). None: nothing listens."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(min(timeout, 1.5))
            try:
                first = sock.recv(256)
            except TimeoutError:
                first = b""
    except OSError:
        return None
    if first.startswith(b"SSH-"):
        return Observation(host, port, ssh_banner=first.split(b"\n", 1)[0].rstrip(b"\r").decode("ascii", "replace"))
    if first:
        return Observation(host, port, ssh_banner=None, scheme="raw", replies=(
            HttpReply(Probe("", "CONNECT"), 0, {}, first.decode("ascii", "replace")),))
    scheme = "https" if _speaks_tls(host, port, timeout) else "http"
    probes = [Probe()]
    for fp in prints:
        probes += [p for p in fp.probes if p not in probes]
    replies = _http(f"{scheme}://{_authority(host)}:{port}", probes[:MAX_PROBES], timeout, stop)
    return Observation(host, port, scheme=scheme, replies=tuple(replies))


def _authority(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _speaks_tls(host: str, port: int, timeout: float) -> bool:
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, \
                context.wrap_socket(sock, server_hostname=host):
            return True
    except (OSError, ssl.SSLError):
        return False


def _http(base: str, probes: list[Probe], timeout: float, stop: float) -> list[HttpReply]:
    import warnings

    import requests
    from urllib3.exceptions import InsecureRequestWarning

    from routerfix.transport.html import page_text
    from routerfix.transport.http import requests_session

    replies: list[HttpReply] = []
    with requests_session() as session, warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRequestWarning)
        session.trust_env = False   # no proxy: only this host is contacted
        for probe in probes:
            left = stop - time.monotonic()
            if left <= 0:
                break
            try:
                resp = session.request(probe.method, base + probe.path, headers=dict(probe.headers),
                                       data=probe.body or None, timeout=min(timeout, left), allow_redirects=False,
                                       verify=False, stream=True)
            except requests.RequestException:
                continue
            try:
                raw = next(resp.iter_content(MAX_BODY), b"")  # the start of a longer body is enough to tell
            except requests.RequestException:
                raw = b""  # a body that cannot be read: the status and headers still tell
            finally:
                resp.close()
            body = page_text(raw, resp.encoding)
            replies.append(HttpReply(probe, resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, body))
    return replies


def search(reply: HttpReply | None, pattern: str, *, header: str | None = None) -> re.Match[str] | None:
    """``pattern`` (case-insensitive) in ``reply``'s body, or in its ``header``; None without a reply."""
    if reply is None:
        return None
    text = reply.header(header) if header else reply.body
    return re.search(pattern, text, re.I)


AUTO = "auto"
"""The driver name that asks for detection (``routerfix show --driver auto``)."""


def resolve_driver(host: str, port: int | None = None, *, timeout: float = 3.0, deadline: float = 15.0) -> Detection:
    """Detect ``host`` for ``--driver auto``: the detection when exactly one driver fits; otherwise
    :class:`~routerfix.errors.DriverNotFound` listing the candidates (or what was seen), never a guess."""
    from routerfix.errors import DriverNotFound

    result = detect(host, [port] if port else None, timeout=timeout, deadline=deadline)
    if result.status is DetectStatus.IDENTIFIED:
        return result
    if result.matches:
        names = ", ".join(m.driver for m in result.matches)
        raise DriverNotFound(f"--driver auto: {host} is {result.status}: it could be {names}; name one with --driver")
    raise DriverNotFound(f"--driver auto: {host} is {result.status} ({'; '.join(result.seen)}); name the driver "
                         "with --driver")
