"""Timeouts of every transport call (shared by the driver contract and the transports)."""

from __future__ import annotations

from dataclasses import dataclass

from routerfix.errors import InvalidValue

__all__ = ["Timeouts"]


@dataclass(frozen=True)
class Timeouts:
    """Timeouts in seconds. Every transport call has one.

    :param connect: TCP connect, SSH banner/auth, TLS handshake.
    :param read: one command or one HTTP request.
    :param apply: waiting for a device to apply a change (web GUIs that restart services).
    :param retry_wait: first back-off before retrying a transient fault while connecting or reading (it doubles,
        up to 8×); 0 retries at once (tests).
    """

    connect: float = 10.0
    read: float = 30.0
    apply: float = 60.0
    retry_wait: float = 0.5

    def __post_init__(self) -> None:
        for name in ("connect", "read", "apply"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
                raise InvalidValue(f"timeouts.{name}", value, "seconds, more than 0 and at most 3600")
        wait = self.retry_wait
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait <= 60:
            raise InvalidValue("timeouts.retry_wait", wait, "seconds from 0 to 60")
