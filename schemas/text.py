"""Text a person enters: the one string type of every request body and query.

Postgres cannot store a NUL character (U+0000) in text, and a lone UTF-16 surrogate
(U+D800..U+DFFF, which JSON can spell as an escape) cannot be encoded as UTF-8 at all. Such text
used to pass validation and fail later in a database write, inside an activity that then retried
for ever. `Text` rejects it at the boundary with a 422 naming the field; every text field of
every request model is `Text` (tests/test_request_bounds.py walks the routes and fails on a plain
`str`), and is bounded with `max_length`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_character(value: str) -> str | None:
    """A description (Chinese) of the first character of `value` that Postgres cannot store, or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "空字符 (NUL, U+0000)"
    return f"不成对的代理字符 (U+{ord(char):04X})"


def _storable(value: str) -> str:
    problem = unstorable_character(value)
    if problem is not None:
        # pydantic puts the field's location beside this message (api/errors.py names the field)
        raise ValueError(f"文本中含有无法保存的字符: {problem}; 请删除后重新提交")
    return value


STORABLE = AfterValidator(_storable)
"""The validator that makes a `str` a `Text` (the route walker looks for this object)."""

Text = Annotated[str, STORABLE]
"""A string that Postgres can store. Bound its length where it is used: `Field(max_length=...)`."""
