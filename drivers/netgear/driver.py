"""The ``netgear`` driver: Nighthawk routers over their web GUI, both families.

``open()`` reads ``currentsetting.htm`` (no login needed) for model and firmware and picks the GUI family once:
:class:`~.acos.AcosFamily` (R6700/R7000/R8000/R8500...: ``security.cgi``/``pforward.cgi``/``lan.cgi`` with ``?id=``
tokens) or :class:`~.netcgi.NetCgiFamily` (R7800/R9000/XR/Orbi: ``apply.cgi?/PAGE timestamp=…`` with
``submit_flag``). A family holds its pages, fields and quirks as data and the few methods that truly differ; this
module holds their shared base (:class:`NetgearFamily`) and the registered driver, which does everything the
families share. Facts and traps: docs/facts/netgear.md (summarised in docs/netgear.md).

Writes fetch the form they post (fresh token, current values), post once, wait as long as the router's
"Please wait" page says, and read back: a net-cgi router answers a refused (stale timestamp) POST with the
same page as a success, so only the read-back tells. A write is never blindly repeated
(:meth:`routerfix.transport.http.HttpSession.guarded_write`).

NAT filtering and SIP ALG are fields of the same WAN setup form (``security.cgi`` / ``apply.cgi`` with
``submit_flag=wan``), whose handler reads both from one POST. Inside :meth:`NetgearDriver.write_batch` the two
values are held and sent together at the end of the block: one WAN POST and one read-back instead of two each.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from routerfix.base.web import HTTP_OPTION_NAMES, WebDriver
from routerfix.enums import ActionKind
from routerfix.errors import (
    AuthenticationError,
    DeviceError,
    InvalidValue,
    SessionError,
    UnsupportedOperation,
)
from routerfix.model import (
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    NatMode,
    Neighbour,
    PortForward,
    PortRange,
    Protocol,
)
from routerfix.policy import NatDecision, Phone
from routerfix.secrets import Secret
from routerfix.transport.http import Page, PageChecks

from .parsers import parse_current_setting, parse_failure, parse_wait_ms

__all__ = ["FamilyName", "NetgearDriver", "NetgearFamily", "WanState"]

SIP_PORTS = PortRange(5060, 5061)
FEATURES = frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.NAT_MODE, Feature.SIP_ALG,
                      Feature.DHCP_SCOPE, Feature.NEIGHBOURS})
PROTO_VALUE = {Protocol.BOTH: "TCP/UDP", Protocol.TCP: "TCP", Protocol.UDP: "UDP"}
"""The ``srvtype`` option of each protocol (both families)."""
NO_RESERVATION = "no DHCP reservation and no ping tool are driven: the sink is taken from the top of the pool"


class FamilyName(StrEnum):
    """The two Nighthawk web GUIs (the ``family`` option)."""

    ACOS = "acos"
    NETCGI = "netcgi"


@dataclass(frozen=True)
class WanState:
    """What the WAN setup page says about the two settings routerfix drives."""

    nat: NatMode
    sip_alg: bool


class Gone(Exception):
    """The rule to remove is not on the router (already gone: not an error)."""


class NetgearFamily:
    """Shared base of the GUI families: class attributes are the family's data; the methods are what differs.

    A family works through its driver's page cache and session (:meth:`NetgearDriver.fetch`,
    :meth:`NetgearDriver.submit`, ``driver.http``)."""

    name: ClassVar[FamilyName]
    models: ClassVar[frozenset[str]]
    """Models known to have this GUI."""
    max_forwards: ClassVar[int]
    notes: ClassVar[tuple[str, ...]]
    wan_page: ClassVar[str] = "/WAN_wan.htm"
    lan_page: ClassVar[str] = "/LAN_lan.htm"
    devices_page: ClassVar[str]
    """The attached-devices list."""
    list_page: str
    """The port-forwarding list (a class constant, or chosen per firmware)."""

    def __init__(self, driver: NetgearDriver, firmware: str) -> None:
        self.driver = driver
        self.firmware = firmware

    def capabilities(self) -> Capabilities:
        """What this family offers."""
        return Capabilities(features=FEATURES, max_forwards=self.max_forwards, forward_ranges=True,
                            forward_both=True, notes=self.notes)

    # --- session pages -------------------------------------------------------------------------------

    def is_other_admin(self, page: Page) -> bool:
        """The page says another admin holds the session."""
        raise NotImplementedError

    def take_over(self, page: Page) -> None:
        """Take another admin's session over (the caller allowed it)."""
        raise NotImplementedError

    def note(self, page: Page, *, posted: bool = False) -> None:
        """See every page fetched and every POST's answer (form tokens). Default: nothing to track."""

    def forget(self) -> None:
        """Drop per-session state (the session closed or a POST's fate is unknown). Default: none."""

    # --- reads ---------------------------------------------------------------------------------------------

    def wan_state(self, page: Page) -> WanState:
        """NAT filtering and SIP ALG from the WAN page, after checking every value a WAN POST depends on."""
        raise NotImplementedError

    def forwards(self) -> tuple[PortForward, ...]:
        """Every custom-service forward."""
        raise NotImplementedError

    def scope(self, page: Page) -> DhcpScope:
        """The DHCP scope from the LAN page."""
        raise NotImplementedError

    def neighbours(self, page: Page) -> list[Neighbour]:
        """The attached devices from :attr:`devices_page`."""
        raise NotImplementedError

    # --- writes ----------------------------------------------------------------------------------------

    def post_wan(self, page: Page, nat: NatMode, sip_alg: bool) -> Page:
        """Post the WAN form of ``page`` with both values set and every other setting kept."""
        raise NotImplementedError

    def post_add(self, forward: PortForward) -> Page:
        """Post the add form once for ``forward``."""
        raise NotImplementedError

    def is_added(self, forward: PortForward) -> bool:
        """``forward`` shows in the list (read back after an add)."""
        return any(f.key() == forward.key() for f in self.forwards())

    def post_remove(self, forward: PortForward) -> Page:
        """Post the delete of ``forward`` found by content; :class:`Gone` when it is not there."""
        raise NotImplementedError


def _families() -> tuple[type[NetgearFamily], ...]:
    from .acos import AcosFamily  # the family modules build on this one
    from .netcgi import NetCgiFamily

    return AcosFamily, NetCgiFamily


@dataclass
class _HeldWan:
    """WAN form values set inside :meth:`NetgearDriver.write_batch`, not sent yet (``None``: not set)."""

    nat: NatMode | None = None
    sip: bool | None = None


class NetgearDriver(WebDriver):
    """Netgear Nighthawk (ACOS and net-cgi) over the web GUI.

    Options: the shared HTTP options (``scheme``, ``verify_tls``, ``tls_fingerprint``, ``ca_file``,
    ``take_over_session``; see docs/web.md) and ``family`` (``"acos"``/``"netcgi"``) to force the flavour
    of a model this driver does not know. Username defaults to ``admin``.
    """

    name: ClassVar[str] = "netgear"
    capabilities = Capabilities(features=FEATURES, max_forwards=20, forward_ranges=True, forward_both=True,
                                orders_rules=False,
                                notes=("the GUI family is found when the session opens: ACOS (20 rules) or net-cgi "
                                       "(64 rules)", NO_RESERVATION))
    option_names: ClassVar[frozenset[str]] = HTTP_OPTION_NAMES | {"family"}
    option_help: ClassVar[Mapping[str, str]] = {
        **WebDriver.option_help,
        "family": "force the web GUI family of a model this driver does not know: acos (R6xxx/R7000/R8000 style) "
                  "or netcgi (R7800/R9000/Orbi style) (default: by model)",
    }
    batch_kinds = frozenset({ActionKind.SET_NAT_MODE, ActionKind.SET_SIP_ALG})
    """NAT filtering and SIP ALG share the WAN setup form: :meth:`write_batch` sends them in one POST."""

    def __init__(self, host: str, **options: Any) -> None:
        forced = options.get("family")
        if forced is not None and forced not in {f.value for f in FamilyName}:
            raise InvalidValue("family", forced, "'acos' or 'netcgi'")
        super().__init__(host, **options)
        self._family: NetgearFamily | None = None
        self.setting: dict[str, str] = {}
        self._facts: DeviceFacts | None = None
        self._cache: dict[str, Page] = {}
        self._login_page: Page | None = None
        """The WAN page the log-in fetched: the first :meth:`read_state` of the session uses it."""
        self._held: _HeldWan | None = None

    # --- session (WebDriver hooks) --------------------------------------------------------------------

    @property
    def family(self) -> NetgearFamily:
        """The GUI family found by :meth:`open`."""
        if self._family is None:
            raise SessionError("the session is not open", host=self.host, driver=self.name)
        return self._family

    @property
    def stats(self) -> dict[str, int]:
        """Requests and logins of this run (for benchmarks)."""
        return self.request_stats()

    def _page_checks(self) -> PageChecks:
        return PageChecks(logged_out=_is_login_form, other_admin=self._is_other_admin,
                          token_expired=_is_token_expired)

    def _login(self) -> None:
        """Read ``currentsetting.htm``, pick the family, log in (Basic auth; one retry of the first 401)."""
        http = self.http
        page = http.request("GET", "/currentsetting.htm", page="currentsetting.htm")
        self.setting = parse_current_setting(page.text)
        model = self.setting["Model"].upper()
        forced = self.options.get("family")
        kind = next((f for f in _families() if (f.name == forced if forced else model in f.models)), None)
        if kind is None:
            raise UnsupportedOperation(
                f"Netgear model {model} is not known to this driver; pass family='acos' (R6xxx/R7000/R8000 "
                f"style GUI) or family='netcgi' (R7800/R9000/Orbi style GUI) if you know it",
                host=self.host, driver=self.name)
        firmware = self.setting["Firmware"]
        self._facts = DeviceFacts("Netgear", model, firmware, "")
        self._family = kind(self, firmware)
        self.capabilities = self._family.capabilities()
        http.set_credentials(basic=(self.username or "admin", self.password or Secret("")))
        # the log-in request is the WAN page, which the first read needs anyway (any page needs auth, row 2)
        wan = self._family.wan_page
        try:
            start = http.request("GET", wan, page="WAN_wan.htm")
        except AuthenticationError:  # the first request of a client answers 401 even with good credentials
            start = http.request("GET", wan, page="WAN_wan.htm")
        if _is_login_form(start):
            raise UnsupportedOperation(
                "this firmware logs in through a form, not HTTP Basic auth: its login is not supported yet; "
                "nothing was changed", host=self.host, driver=self.name)
        self._family.note(start)
        if self._is_other_admin(start):
            http.recover("other_admin", start)
        else:
            self._login_page = start

    def _logout(self) -> None:
        self.http.request("GET", "/LGO_logout.htm", page="LGO_logout.htm", ok_status=(200, 302, 401, 404))

    def _is_other_admin(self, page: Page) -> bool:
        return self._family is not None and self._family.is_other_admin(page)

    def _take_over(self, page: Page) -> None:
        self.family.take_over(page)

    def _on_close(self) -> None:
        self._cache.clear()
        self._login_page = None
        if self._family is not None:
            self._family.forget()

    # --- pages shared by the families ---------------------------------------------------------------

    def fetch(self, path: str, name: str, *, cache: bool = True) -> Page:
        """GET ``path`` (from this session's page cache unless ``cache=False``); the family sees the page."""
        if cache and path in self._cache:
            return self._cache[path]
        page = self.http.get(path, page=name)
        self.family.note(page)
        self._cache[path] = page
        return page

    def drop(self, pages: tuple[str, ...] | None) -> None:
        """Forget the cached ``pages`` (every page when None): a write may have changed them."""
        if pages is None:
            self._cache.clear()
        for path in pages or ():
            self._cache.pop(path, None)

    def submit(self, path: str, body: dict[str, str], name: str, *, changes: tuple[str, ...] | None = None) -> Page:
        """POST once; a "Failure" page raises :class:`DeviceError` with the router's reason.

        The cached pages the POST may change (``changes``; every page when None) are dropped first. Other cached
        pages stay valid: no write changes what they show, the ACOS family posts with the newest token it
        saw, not the cached page's (rows 14, 16), and a net-cgi form's timestamp belongs to its own page (row 33)."""
        self.drop(changes)
        self._login_page = None  # read before this write: a later read_state reads afresh
        try:
            answer = self.http.post(path, body, page=name)
        except BaseException:
            self.family.forget()
            raise
        self.family.note(answer, posted=True)
        if answer.status == 200:
            reason = parse_failure(answer)
            if reason is not None:
                raise DeviceError(f"{name}: the router refused the change", device_message=reason,
                                  host=self.host, driver=self.name)
        return answer

    def _wait_then(self, answer: Page | None, check: Callable[[], bool], changes: tuple[str, ...] | None) -> bool:
        """Wait as the router's wait page says, then read back (the ``changes`` pages afresh: every page when None)
        until ``check`` holds or the apply time is up."""
        hint = parse_wait_ms(answer) / 1000 if answer is not None else 0.2
        hint = min(hint, self.timeouts.apply)
        deadline = time.monotonic() + min(self.timeouts.apply, max(5.0, 3 * hint))
        time.sleep(hint)
        while True:
            self.drop(changes)
            if check():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(max(0.1, min(hint, 1.0)))

    def _write(self, what: str, send: Callable[[], Page], check: Callable[[], bool],
               changes: tuple[str, ...] | None = None) -> None:
        """Send once; on a definite "nothing applied" answer send once more; otherwise read back (the ``changes``
        pages, fetched afresh)."""
        outcome: dict[str, Page | None] = {"answer": None}

        def do_send() -> None:
            outcome["answer"] = None
            outcome["answer"] = send()

        def is_done() -> bool:
            return self._wait_then(outcome["answer"], check, changes)

        self.http.guarded_write(do_send, is_done=is_done, what=what)

    # --- reads ---------------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Vendor, model and firmware from ``currentsetting.htm``."""
        if self._facts is None:
            raise SessionError("the session is not open", host=self.host, driver=self.name)
        return self._facts

    def _wan(self) -> tuple[Page, WanState]:
        page = self.fetch(self.family.wan_page, "WAN_wan.htm")
        return page, self.family.wan_state(page)

    def get_nat_mode(self) -> NatMode | None:
        """NAT filtering: Secured → secure, Open → open."""
        return self._wan()[1].nat

    def get_sip_alg(self) -> bool | None:
        """SIP ALG on?"""
        return self._wan()[1].sip_alg

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every custom-service forward. ``ref`` is the 1-based row (ACOS) or ``first:count`` (net-cgi)."""
        return self.family.forwards()

    def get_dhcp_scope(self) -> DhcpScope:
        """LAN address, mask and the DHCP pool from ``LAN_lan.htm`` (no reservations are read)."""
        return self.family.scope(self.fetch(self.family.lan_page, "LAN_lan.htm"))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """The attached-devices list (wired and wireless)."""
        path = self.family.devices_page
        return tuple(self.family.neighbours(self.fetch(path, path.lstrip("/"))))

    def read_state(self) -> DeviceState:
        """One pass over WAN, port forwarding, LAN and attached devices (4 pages; the WAN page the log-in just
        fetched is the first pass's)."""
        self._cache.clear()
        if self._login_page is not None:
            self._cache[self.family.wan_page] = self._login_page
            self._login_page = None
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, nat_mode=self.get_nat_mode(),
                           sip_alg=self.get_sip_alg(), forwards=self.list_port_forwards(),
                           scope=self.get_dhcp_scope(), neighbours=self.list_neighbours())

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """Read back what verification compares: NAT filtering, SIP ALG (WAN page) and every forward.

        Pages read since the last POST that could change them are reused: :meth:`submit` and every read-back
        drop the pages a write changes, so every cached page shows the router after all of this run's writes
        (typically the WAN page and the forwarding list the writes' read-backs fetched). The LAN page (no
        reservations are driven here) and the attached devices list hold nothing verification looks at and are
        not read."""
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, nat_mode=self.get_nat_mode(),
                           sip_alg=self.get_sip_alg(), forwards=self.list_port_forwards())

    def nat_policy(self, state: DeviceState, phones: tuple[Phone, ...]) -> NatDecision:
        """Netgear's policy: NAT filtering **Open** plus the forward (Secured hands phones duplicate UDP
        ports); Secured may stay when exactly one phone is on the LAN."""
        if Feature.NAT_MODE not in state.capabilities:
            return NatDecision(None, "the router has no NAT filtering setting")
        if len(phones) == 1 and state.nat_mode is NatMode.SECURE:
            return NatDecision(NatMode.SECURE, "exactly one phone on the LAN: Secured NAT filtering may stay "
                                               "(with one phone it does not hand out duplicate UDP ports)")
        if len(phones) == 1:
            return NatDecision(NatMode.OPEN, "exactly one phone on the LAN: NAT filtering stays Open, the forward "
                                             "covers the SIP ports")
        count = f"{len(phones)} phones" if phones else "no phone recognised"
        return NatDecision(NatMode.OPEN, f"{count} on the LAN: Netgear needs NAT filtering Open plus the forward "
                                         f"(Secured hands phones duplicate UDP ports)")

    # --- writes --------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """Hold the NAT filtering and SIP ALG set inside the block; as it ends, send them in ONE WAN POST.

        The end of the block is a single write (:meth:`_wan_write`): the WAN form is built from a page read
        since the last POST (current token/timestamp, every hidden field from the page's variables), both
        changes are applied to it, it is posted once and read back until the page shows both values (net-cgi
        answers a refused POST like a success). Never blindly repeated
        (:meth:`~routerfix.transport.http.HttpSession.guarded_write`). An exception inside the block drops
        what is held: nothing is posted. Other writes inside the block are not held (they go at once); a
        nested block adds to the outer one."""
        if self._held is not None:
            yield
            return
        held = self._held = _HeldWan()
        try:
            yield
        finally:
            self._held = None
        if held.nat is None and held.sip is None:
            return
        what = " and ".join(name for name, value in (("NAT filtering", held.nat), ("SIP ALG", held.sip))
                            if value is not None)
        self._wan_write(what, nat=held.nat, sip=held.sip)

    def _set_nat_mode(self, mode: NatMode) -> None:
        if self._held is not None:
            self._held.nat = mode
            return
        self._wan_write("NAT filtering", nat=mode)

    def _set_sip_alg(self, enabled: bool) -> None:
        if self._held is not None:
            self._held.sip = enabled
            return
        self._wan_write("SIP ALG", sip=enabled)

    def _wan_write(self, what: str, *, nat: NatMode | None = None, sip: bool | None = None) -> None:
        def check() -> bool:
            state = self._wan()[1]
            return (nat is None or state.nat is nat) and (sip is None or state.sip_alg is sip)

        def send() -> Page:
            page, current = self._wan()
            return self.family.post_wan(page, nat or current.nat, current.sip_alg if sip is None else sip)

        self._write(f"setting {what}", send, check, (self.family.wan_page,))

    def _add_port_forward(self, forward: PortForward) -> None:
        if forward.internal_ports is None:
            raise InvalidValue("internal_ports", None, "a port range")
        family = self.family
        self._write(f"adding forward {forward.name}", lambda: family.post_add(forward),
                    lambda: family.is_added(forward), (family.list_page,))

    def _remove_port_forward(self, forward: PortForward) -> None:
        def check() -> bool:
            return not any(same_rule(f, forward) for f in self.list_port_forwards())

        def send() -> Page:
            self._cache.clear()
            return self.family.post_remove(forward)

        try:
            self._write(f"removing forward {forward.name}", send, check)
        except Gone:
            return


def same_rule(a: PortForward, b: PortForward) -> bool:
    """The same rule by name, address, external ports and an overlapping protocol."""
    return (a.name, a.internal_address, a.external_ports) == (b.name, b.internal_address, b.external_ports) and \
        bool(a.protocol.members() & b.protocol.members())


def _is_login_form(page: Page) -> bool:
    text = page.text.lower()
    return 'type="password"' in text and "login" in text and "<form" in text


def _is_token_expired(page: Page) -> bool:
    return "timestamp is expired" in page.text
