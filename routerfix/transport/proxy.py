"""Reaching a web GUI or device API through an HTTP(S) or SOCKS proxy (the ``proxy`` option of every web driver).
No vendor names here.

``proxy`` is a URL: ``http://host:port`` (HTTPS to the device goes through a ``CONNECT`` tunnel, so TLS — chain,
host name or the pinned fingerprint — is checked end to end with the device, never with the proxy),
``socks5h://host:port`` (the proxy resolves the device's name: use it for names only the far side knows),
``socks5://`` (resolved here) or ``socks4a://``/``socks4://``. Credentials may be given in the URL
(``http://user:secret@proxy:3128``); the URL is then held as a :class:`~routerfix.secrets.Secret` and shown only
without them. SOCKS needs PySocks: ``pip install 'routerfix[socks]'``.

Proxies from the environment (``HTTPS_PROXY``...) are never used: only this option sends traffic to a proxy.
"""

from __future__ import annotations

import importlib.util
import urllib.parse
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from routerfix.errors import InvalidValue
from routerfix.secrets import Secret

if TYPE_CHECKING:
    import requests

__all__ = ["PROXY_OPTION_NAMES", "Proxy", "ProxyScheme"]

PROXY_OPTION_NAMES = frozenset({"proxy"})
"""The option every web driver takes to go through a proxy."""


class ProxyScheme(StrEnum):
    """The proxy kinds requests (with PySocks for SOCKS) speaks."""

    HTTP = "http"
    HTTPS = "https"
    SOCKS5 = "socks5"
    SOCKS5H = "socks5h"
    SOCKS4 = "socks4"
    SOCKS4A = "socks4a"

    @property
    def is_socks(self) -> bool:
        """Whether this is a SOCKS proxy (PySocks needed)."""
        return self.value.startswith("socks")


_EXPECTED = "a proxy URL: http://host:port, socks5h://host:port (or socks5, socks4a, socks4, https)"


@dataclass(frozen=True)
class Proxy:
    """One proxy for one session: its scheme, the URL without credentials (for messages) and the whole URL."""

    scheme: ProxyScheme
    shown: str
    url: Secret = field(repr=False)

    @classmethod
    def from_option(cls, value: object) -> Proxy | None:
        """The ``proxy`` option checked (None: no proxy). A SOCKS proxy without PySocks installed is refused here,
        before anything is sent, with the install command."""
        if value in (None, ""):
            return None
        text = value.reveal() if isinstance(value, Secret) else value
        if not isinstance(text, str):
            raise InvalidValue("proxy", "(not a string)", _EXPECTED)
        try:
            parts = urllib.parse.urlsplit(text.strip())
            port = parts.port
        except ValueError:
            raise InvalidValue("proxy", "(unparsable URL)", _EXPECTED) from None
        try:
            scheme = ProxyScheme(parts.scheme.lower())
        except ValueError:
            raise InvalidValue("proxy", f"{parts.scheme}://...", _EXPECTED) from None
        if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise InvalidValue("proxy", f"{scheme}://{parts.hostname or ''}...", _EXPECTED + " (with a port)")
        if scheme.is_socks and importlib.util.find_spec("socks") is None:
            raise InvalidValue("proxy", f"{scheme}://...", "a SOCKS proxy only with PySocks installed: "
                                                            "pip install 'routerfix[socks]'")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return cls(scheme=scheme, shown=f"{scheme}://{host}:{port}", url=Secret(text.strip()))

    def configure(self, session: requests.Session) -> None:
        """Send every request of ``session`` (http and https) through this proxy."""
        url = self.url.reveal()
        session.proxies = {"http": url, "https": url}

    def __str__(self) -> str:
        return self.shown

