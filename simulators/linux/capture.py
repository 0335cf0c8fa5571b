"""The simulated Debian router's capture commands (``routerfix diagnose --capture``): the shared model of
:mod:`simulators._hosts.capture` on ``wan0`` (203.0.113.2) and ``br-lan``, the phone 192.168.88.100. Follows
docs/facts/linux.md rows L41-L42 (tcpdump, coreutils ``timeout`` and ``base64`` on Debian) and docs/facts/diagnose.md
rows K1-K11. The scanner reaches the phone while the router's connection tracking maps it there
(:meth:`~simulators.linux.device.LinuxRouter.scanner_reaches_phone`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._hosts.capture import CAPTURE_TOOLS, SCANNER, CaptureScene, CaptureState, run_capture_program

if TYPE_CHECKING:
    from .device import LinuxRouter

__all__ = ["TOOLS", "CaptureState", "program"]

TOOLS = CAPTURE_TOOLS


def program(router: LinuxRouter, name: str, rest: list[str]) -> tuple[str, str, int] | None:
    """Run a capture command on ``router``: (stdout, stderr, status), or None when it is not one."""
    scene = CaptureScene("wan0", "br-lan", "203.0.113.2", "192.168.88.100",
                         lambda: router.scanner_reaches_phone(SCANNER))
    done = run_capture_program(router.capture, scene, router.files, name, rest)
    if done is None:
        return None
    text, status = done
    return (text, "", status) if status == 0 else ("", text, status)
