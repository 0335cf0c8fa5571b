"""Finite-field Diffie-Hellman key exchange with a private exponent sized to the keys it protects; AES-GCM first.

paramiko draws the client's private exponent ``x`` at 1,023 bits for the fixed groups (``group14``, ``group16``)
and at the full length of ``(p-1)/2`` for a group exchange (2,047 bits against a 2,048-bit ``p``), then computes
``g^x mod p`` and ``f^x mod p`` in pure Python. That is the largest CPU cost of logging in to a device that offers
only these exchanges (RouterOS offers only finite-field exchanges, docs/facts/mikrotik.md M84). Client CPU per
RouterOS login (``benchmarks/kex.py``): ≈ 40-48 ms with paramiko's exponent, ≈ 16 ms with the exponent below,
≈ 4 ms with it held in GMP (below), within 2× of a curve25519 login.

The exponent here follows RFC 4419 §6.2 (the private exponent at least twice as long as the key material derived
from the shared secret) the way OpenSSH does it (openssh/openssh-portable: ``kex.c`` ``kex_choose_conf`` sets
``we_need`` to the largest cipher key, block, IV or MAC key in bytes; ``dh.c`` ``dh_gen_key`` takes at least 256
bits of need and draws ``min(2 × need, bits(p) - 1)`` bits). RFC 3526 §8 gives 220-320 exponent bits for the
2,048-bit group; the 512 bits drawn here for AES with HMAC-SHA2-256 are above that range.

Nothing else of the exchange changes: paramiko's own code computes ``e``, checks ``f``, hashes and verifies the
server's signature. When the negotiated algorithms cannot be read (a paramiko release that names them differently)
or the need is not smaller than paramiko's own exponent, paramiko's own exponent is drawn.

The exponent is held as a GMP integer (``gmpy2.mpz``, a routerfix dependency) when gmpy2 is importable: paramiko's
own ``pow(g, x, p)`` and ``pow(f, x, p)`` then run in GMP, because CPython hands a three-argument ``pow`` whose
exponent is of another type to that type's power slot: 4.2 → 0.5 ms per 2048-bit exponentiation with 512 bits of
exponent. paramiko writes ``e`` and ``K`` to the wire and into the key derivation through ``int()``
(``util.deflate_long``). Without gmpy2 (a platform it has no wheel for) the exponent is a plain ``int`` and Python
does the arithmetic. Neither GMP's ``mpz_powm`` (which ``pow`` uses) nor Python's ``pow`` is constant-time; the
exponent is ephemeral, used for one exchange.

The client also asks for AES-GCM before paramiko's first choice, AES-CTR with an HMAC (:data:`AEAD_CIPHERS`): the
same key exchange and keys, less CPU per packet; a device that offers no AES-GCM agrees on what it agreed before.

The classes are handed to paramiko through its public ``SSHClient.connect(transport_factory=...)`` (paramiko
≥ 3.2) and netmiko's ``_get_ssh_client_instance`` (the seam in :mod:`routerfix.transport.ssh`); the Transport
subclass replaces three entries of paramiko's ``_kex_info`` table and reorders its ``_preferred_ciphers``.
``test_kex_seam`` in ``tests/ssh/`` pins both seams; a test in ``tests/ssh/test_simulator_kex.py`` fails if
paramiko stops reading the cipher order.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any, ClassVar

import paramiko
from paramiko.kex_gex import KexGexSHA256
from paramiko.kex_group14 import KexGroup14SHA256
from paramiko.kex_group16 import KexGroup16SHA512

MIN_NEED_BITS = 256
"""OpenSSH's floor for the key material a private exponent must cover (``dh_gen_key``)."""


def need_bits(transport: Any) -> int | None:
    """The key material the negotiated algorithms derive from the shared secret, in bits: the largest cipher key,
    cipher block, IV or MAC key of either direction (OpenSSH's ``we_need``), at least :data:`MIN_NEED_BITS`.
    None when paramiko's negotiated algorithms cannot be read."""
    try:
        ciphers = [transport._cipher_info[name] for name in (transport.local_cipher, transport.remote_cipher)]
        macs = [transport._mac_info[name] for name in (transport.local_mac, transport.remote_mac)]
        need = max(max(c["key-size"], c["block-size"], c.get("iv-size", 0)) for c in ciphers)
        need = max(need, *(m["class"]().digest_size for m in macs))
    except (AttributeError, KeyError, TypeError):
        return None
    return max(MIN_NEED_BITS, 8 * int(need))


def exponent_bits(transport: Any, p: int, paramiko_bits: int) -> int | None:
    """How many bits of private exponent to draw against the prime ``p``: twice the need, when that is known and
    shorter than both paramiko's own ``paramiko_bits`` and ``(p-1)/2``; otherwise None (draw paramiko's own)."""
    need = need_bits(transport)
    if need is None:
        return None
    bits = 2 * need
    if bits >= paramiko_bits or bits >= p.bit_length() - 1:
        return None
    return bits


def draw_exponent(bits: int) -> int:
    """A private exponent of at most ``bits`` bits, from the operating system's CSPRNG, greater than 1."""
    while True:
        x = secrets.randbits(bits)
        if x > 1:
            return x


@functools.cache
def exponent_type() -> Callable[[int], Any]:
    """``gmpy2.mpz`` when gmpy2 is installed, else ``int``: what the exponent is held as (see the module doc)."""
    try:
        import gmpy2
    except ImportError:  # not installed here (no wheel for this platform): Python's own arithmetic, slower
        return int
    return gmpy2.mpz  # type: ignore[no-any-return]


class _SizedExponent:
    """Mixin over a paramiko exchange engine: ``_generate_x`` draws :func:`exponent_bits` bits when it can."""

    transport: Any
    x: Any

    def _prime(self) -> int:
        raise NotImplementedError

    def _paramiko_bits(self) -> int:
        raise NotImplementedError

    def _generate_x(self) -> None:
        bits = exponent_bits(self.transport, self._prime(), self._paramiko_bits())
        if bits is None:
            super()._generate_x()  # type: ignore[misc]
            self.x = exponent_type()(self.x)
        else:
            self.x = exponent_type()(draw_exponent(bits))


class _FixedGroup(_SizedExponent):
    """An exchange on a fixed RFC 3526 group (the engine's ``P``), where paramiko draws 1,023 bits."""

    P: int

    def _prime(self) -> int:
        return int(self.P)

    def _paramiko_bits(self) -> int:
        return 1023  # paramiko draws 128 random bytes, top bit cleared


class Group14SHA256(_FixedGroup, KexGroup14SHA256):
    """``diffie-hellman-group14-sha256`` (RFC 8268) with a sized exponent."""


class Group16SHA512(_FixedGroup, KexGroup16SHA512):
    """``diffie-hellman-group16-sha512`` (RFC 8268) with a sized exponent."""


class GexSHA256(_SizedExponent, KexGexSHA256):
    """``diffie-hellman-group-exchange-sha256`` (RFC 4419) with a sized exponent; the server's ``p`` is checked
    by paramiko (1,024-8,192 bits) before the exponent is drawn."""

    def _prime(self) -> int:
        return int(self.p or 0)  # no p yet: 0 makes the exponent paramiko's own

    def _paramiko_bits(self) -> int:
        return int(self.p or 0).bit_length() - 1  # paramiko draws below (p-1)/2


AEAD_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
"""Ciphers asked for before paramiko's own first choices, where the device offers them: AES-GCM authenticates with
the cipher (one call into OpenSSL per packet); paramiko's first choice, AES-CTR, adds an HMAC that paramiko builds in
Python for every packet (19-28 % of the client's CPU per command round trip, ``benchmarks/ssh_reads.py``)."""


def aead_first(preferred: tuple[str, ...]) -> tuple[str, ...]:
    """``preferred`` (paramiko's cipher order) with those of :data:`AEAD_CIPHERS` it knows moved to the front."""
    first = tuple(name for name in AEAD_CIPHERS if name in preferred)
    return first + tuple(name for name in preferred if name not in first)


class Transport(paramiko.Transport):
    """paramiko's Transport with the three finite-field exchanges above and AES-GCM asked for first; everything
    else is paramiko's (a device that offers no AES-GCM agrees on paramiko's first choice, as before)."""

    _kex_info: ClassVar[dict[str, Any]] = {
        **vars(paramiko.Transport)["_kex_info"],
        Group14SHA256.name: Group14SHA256,
        Group16SHA512.name: Group16SHA512,
        GexSHA256.name: GexSHA256,
    }
    _preferred_ciphers: ClassVar[tuple[str, ...]] = aead_first(vars(paramiko.Transport)["_preferred_ciphers"])


class SSHClient(paramiko.SSHClient):
    """paramiko's SSHClient whose connections use :class:`Transport` (paramiko's public ``transport_factory``)."""

    def connect(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("transport_factory", Transport)
        super().connect(*args, **kwargs)
