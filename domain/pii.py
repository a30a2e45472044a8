"""Personal data masking (个人信息保护法): phone and ID numbers shown only to those entitled.

Pure functions used by the log processor and by API responses for roles without the right.
"""

from __future__ import annotations

import re

# An 18-character ID number (17 digits + digit/X) or an 11-digit mainland mobile, not embedded in
# a longer run of digits (so row numbers and timestamps are left alone).
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def _mask(value: str | None, *, head: int) -> str | None:
    """The first `head` and last four characters kept, the rest starred; a value too short to keep
    any of it (fewer than head + 4 characters) fully starred."""
    if value is None:
        return None
    if len(value) >= head + 4:
        return value[:head] + "*" * (len(value) - head - 4) + value[-4:]
    return "*" * len(value)


def mask_phone(phone: str | None) -> str | None:
    """138****5678 for a mobile number; anything shorter is fully starred."""
    return _mask(phone, head=3)


def mask_id_number(id_number: str | None) -> str | None:
    """110105********123X: region code and last four kept, birth date hidden."""
    return _mask(id_number, head=6)


def mask_text(text: str) -> str:
    """Mask every phone or ID number found anywhere in free text."""
    text = _ID_RE.sub(lambda m: m.group(1) + "********" + m.group(2), text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(2), text)
