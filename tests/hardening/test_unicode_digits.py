"""Regression: text parsers must not trust str.isdigit() before int() ('²'.isdigit() is True, int('²') fails).
Found by the parser fuzz on the Netgear SOAP attached-devices parser."""

from __future__ import annotations

import pytest
from routerfix.drivers.netgear.parsers import parse_attach_device_soap

from routerfix.errors import ParseError


@pytest.mark.parametrize("text", ["²", "<NewAttachDevice>²@1;192.168.1.2;x;00:04:f2:00:00:01</NewAttachDevice>",
                                  "٣@a@b@c"])
def test_non_ascii_digit_counts_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse_attach_device_soap(text)
