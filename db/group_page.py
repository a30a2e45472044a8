"""A page of a list of groups with a rate (报到率 per community or unit, a campaign's progress per
area), sorted and cut in SQL: the city-wide lists have ~10,000 rows and the console shows 50."""

from __future__ import annotations

from collections.abc import Sequence

from asyncpg import Record

from schemas.api import GroupPageRequest


def paged(sql: str, *, key: str, numerator: str, first_param: int) -> str:
    """`sql` (rows with `key`, `name`, `members` and `numerator`) as its total count beside one
    page of it: parameters $first_param.. are the order, limit (NULL for all) and offset
    (page_args). The rate sorted by is numerator / members (0 for a group without members), ties
    by `key`. Always returns one row at least: an empty page is one row with only the total."""
    order, limit, offset = (f"${first_param + i}" for i in range(3))
    rate = f"coalesce(l.{numerator}::numeric / nullif(l.members, 0), 0)"
    return f"""
        WITH listed AS ({sql})
        SELECT t.total, p.*
        FROM (SELECT count(*) AS total FROM listed) t
        LEFT JOIN LATERAL (
            SELECT * FROM listed l
            ORDER BY CASE WHEN {order}::text = 'rate_asc' THEN {rate} END,
                     CASE WHEN {order}::text = 'rate_desc' THEN {rate} END DESC,
                     CASE WHEN {order}::text = 'name' THEN l.name END,
                     l.{key}
            LIMIT {limit}::bigint OFFSET {offset}::bigint
        ) p ON true
    """  # noqa: S608 - composed of constants and column names, no input


def page_args(page: GroupPageRequest) -> tuple[str, int | None, int]:
    return page.order.value, page.limit, page.offset


def split(rows: Sequence[Record]) -> tuple[int, list[Record]]:
    """The total and the page's rows of a `paged` query's answer (each row still has `total`)."""
    total = int(rows[0]["total"]) if rows else 0
    return total, [r for r in rows if r["members"] is not None]
