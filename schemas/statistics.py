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
    level: StatisticsLevel
    items: list[RegistrationCounts]
