"""How much evidence one run reads: every reader stops at these and says so in the result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import BinaryIO

from routerfix.errors import InvalidValue

__all__ = ["BoundedReader", "Budget", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Bounds on what is read. A file is read up to ``max_bytes_per_file``; all files together yield at most
    ``max_packets`` packets (or log records) and keep at most ``max_messages`` SIP messages; TCP streams are
    followed for at most ``max_tcp_streams`` at a time, each buffering at most ``max_stream_bytes``."""

    max_bytes_per_file: int = 512 * 1024 * 1024
    max_packets: int = 5_000_000
    max_messages: int = 200_000
    max_tcp_streams: int = 4096
    max_stream_bytes: int = 256 * 1024
    max_line_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidValue(name, value, "a whole number of at least 1")

    def to_dict(self) -> dict[str, int]:
        """The limits as JSON-ready data."""
        return asdict(self)


@dataclass
class Budget:
    """What is left of the limits during one run, and which limits were reached."""

    limits: Limits
    packets: int = 0
    messages: int = 0
    reached: list[str] = field(default_factory=list)

    def take_packet(self) -> bool:
        """Count one packet/record; False once ``max_packets`` is used up."""
        if self.packets >= self.limits.max_packets:
            self.hit("max_packets")
            return False
        self.packets += 1
        return True

    def take_message(self) -> bool:
        """Count one kept SIP message; False once ``max_messages`` is used up."""
        if self.messages >= self.limits.max_messages:
            self.hit("max_messages")
            return False
        self.messages += 1
        return True

    def hit(self, name: str) -> None:
        """Record that limit ``name`` was reached (once)."""
        if name not in self.reached:
            self.reached.append(name)


class BoundedReader:
    """A read-only file wrapper that returns end-of-file after ``limit`` bytes (so no reader can go further or
    allocate more than the file actually holds within the limit)."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self._raw = raw
        self._left = limit
        self.cut = False

    def read(self, size: int = -1) -> bytes:
        """Read at most ``size`` bytes, never past the limit."""
        if self._left <= 0:
            if self._raw.read(1):
                self.cut = True
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._raw.read(want)
        self._left -= len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        """Seek in the underlying file (used only to rewind to the start when detecting the format)."""
        pos = self._raw.seek(offset, whence)
        return pos

    def tell(self) -> int:
        """The position in the underlying file."""
        return self._raw.tell()

    def readline(self, size: int = -1) -> bytes:
        """Read one line (at most ``size`` bytes), never past the limit."""
        if self._left <= 0:
            if self._raw.read(1):
                self.cut = True
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._raw.readline(want)
        self._left -= len(data)
        return data
