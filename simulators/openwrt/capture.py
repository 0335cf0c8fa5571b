"""The simulated OpenWrt router's capture commands (``routerfix diagnose --capture``): the shared model of
:mod:`simulators._hosts.capture` on the WAN device ``wan`` and ``br-lan`` (``ifstatus`` ``l3_device``), the
phone 192.168.1.100. Follows docs/facts/openwrt.md rows 40-42: stock OpenWrt has neither tcpdump nor BusyBox's
``timeout``/``base64`` applets, so ``CaptureState.installed`` is False until a test installs them (``opkg install
tcpdump coreutils-timeout coreutils-base64``). The scanner reaches the phone while the running firewall has no
redirect of 5060 to another LAN address (routerfix's sink)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._hosts.capture import CAPTURE_TOOLS, CaptureScene, CaptureState, run_capture_program

if TYPE_CHECKING:
    from .shell import OpenWrtRouter

__all__ = ["CaptureState", "command_v", "program"]

PHONE = "192.168.1.100"


def _reaching(router: OpenWrtRouter) -> bool:
    return not any(s.type == "redirect" and s.options.get("src_dport") in ("5060", "5060-5061")
                   and s.options.get("dest_ip") not in (None, PHONE) for s in router.active_firewall)


def command_v(router: OpenWrtRouter, names: list[str], tools: dict[str, str]) -> tuple[str, int]:
    """``command -v A B ...`` (ash prints the path of each one found; status 1 when the last is missing)."""
    known = {**tools, **(CAPTURE_TOOLS if router.capture.installed else {})}
    found = [known[n] for n in names if n in known]
    return "".join(f + "\n" for f in found), 0 if names and names[-1] in known else 1


def program(router: OpenWrtRouter, name: str, args: list[str]) -> tuple[str, int] | None:
    """Run a capture command on ``router``: (output, status), or None when it is not one."""
    scene = CaptureScene("wan", "br-lan", router.wan_ip, PHONE, lambda: _reaching(router))
    return run_capture_program(router.capture, scene, router.capture.texts, name, args)
