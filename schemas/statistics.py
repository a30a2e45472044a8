"""Registration statistics 报到率: counts per level of the hierarchy (or per unit) and the rate."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class StatisticsLevel(StrEnum):
    unit = "unit"
    community = "community"
    subdistrict = "subdistrict"
    district = "district"
    city = "city"


class RegistrationCounts(BaseModel):
    """One row: the members of a group and the status of each member's latest registration.

    rate 报到率 = active / members (0 when the group has no members).
    """

    level: StatisticsLevel
    id: int | None
    name: str
    members: int
    submitted: int
    confirmed: int
    active: int
    paused: int
    rejected: int
    lapsed: int
    rate: float


class RegistrationStatistics(BaseModel):
    """The groups of `level` (one page of them when a limit was asked) and how many there are."""

    level: StatisticsLevel
    total: int
    items: list[RegistrationCounts]


class TrendMonth(BaseModel):
    """One calendar month (Beijing time) of a group's registration trend.

    members: the group's members as the roster stands now (the same in every month);
    registered: members whose registration was confirmed before the month ended and had not
    ended by then; newly_registered: confirmations within the month; served: members with at
    least one credited service in the month; met_standard: members who met the evaluation rule's
    monthly quota in the month (services and hours, default 1 service and 2 hours);
    rate 报到率 = registered / members (0 for an empty group).
    """

    month: str
    members: int
    registered: int
    newly_registered: int
    served: int
    met_standard: int
    rate: float


class RegistrationTrend(BaseModel):
    level: StatisticsLevel
    id: int | None
    name: str
    quota_services: float
    quota_hours: float
    months: list[TrendMonth]
