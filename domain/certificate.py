"""The registration certificate 报到证 as pure rules: its number and code, and the masked name a
public check shows. The printed page is reports/certificate.py."""

from __future__ import annotations

# No 0/O, 1/I/L: the code is typed in by a person reading a paper.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


# A certificate number is `BDZ` + 12 random characters of CODE_ALPHABET (about 59 bits), drawn by
# services/certificate.py: nobody can walk the numbers of other members' papers. Numbers printed
# before this rule (`BDZ` + year + padded registration id) stay in the table and keep checking.
NUMBER_PREFIX = "BDZ"
NUMBER_LENGTH = 12


def number_shaped(number: str) -> bool:
    """True when `number` has the shape of a (new) random certificate number."""
    body = number.removeprefix(NUMBER_PREFIX)
    return number.startswith(NUMBER_PREFIX) and len(body) == NUMBER_LENGTH and all(
        ch in CODE_ALPHABET for ch in body)


def code_shaped(code: str) -> bool:
    """True when `code` could be a verification code at all (cheap refusal of junk input)."""
    return len(code) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in code)


def normalized_code(code: str) -> str:
    """What a person typed, as stored: upper case, no spaces or dashes."""
    return code.strip().upper().replace(" ", "").replace("-", "")


def mask_name(name: str) -> str:
    """张三 → 张*, 张三丰 → 张*丰: enough for the checker to compare with the paper, not more."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
