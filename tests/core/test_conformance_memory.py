"""The conformance kit run against the in-memory driver (the reference implementation)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import routerfix
from routerfix.testing import DriverConformance


class TestMemoryConformance(DriverConformance):
    @pytest.fixture
    def driver(self) -> Iterator[routerfix.Driver]:
        with routerfix.connect("memory", f"kit-{uuid.uuid4().hex[:6]}", password="admin") as d:
            yield d
