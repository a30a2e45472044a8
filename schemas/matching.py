"""Wire types of matching: what the dispatch activity hands the pure matcher and what it gets back.

A free-time slot is `weekday * 3 + part` (weekday 0=Mon..6=Sun; part 0 上午, 1 下午, 2 晚上), the same
encoding as `member.free_slots` in the core schema, so slots read from the database pass through
unchanged. A task's window is the set of slots it needs; a member fits when they are free in all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

SLOTS_PER_WEEK = 21

Slot = Annotated[int, Field(ge=0, lt=SLOTS_PER_WEEK)]


class EscalationLevel(StrEnum):
    """How far a task has climbed the ladder 分级响应; each level widens who may be offered it."""

    grid = "grid"                 # members placed in the task's grid
    adjacent = "adjacent"         # ... and in the grids next to it
    community = "community"       # anyone registered with the task's community
    subdistrict = "subdistrict"   # anyone registered in a community of the task's subdistrict
    district = "district"         # anyone registered in a community of the task's district


class TaskSpec(BaseModel):
    """One task as the matcher sees it."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    community_id: int
    grid_id: int
    headcount: int = Field(ge=1)
    required_skills: frozenset[str] = frozenset()
    window_slots: frozenset[Slot] = Field(
        default=frozenset(), description="free-time slots the task needs; empty means any time"
    )
    level: EscalationLevel = EscalationLevel.grid


class MemberCandidate(BaseModel):
    """One member as the matcher sees it: where they live, what they can do, how busy they are.

    `home_grid_id`, `community_id`, `subdistrict_id` and `district_id` say where the member lives
    (proximity); `active_registration_community_id` says where they serve (hard constraint).
    `recent_load` is the member's services over recent windows, already decayed by the caller.
    """

    model_config = ConfigDict(frozen=True)

    member_id: int
    unit_id: int | None = None
    home_grid_id: int | None = None
    community_id: int | None = None
    subdistrict_id: int | None = None
    district_id: int | None = None
    skills: frozenset[str] = frozenset()
    free_slots: frozenset[Slot] = frozenset()
    paused: bool = False
    active_registration_community_id: int | None = None
    current_load: int = Field(default=0, ge=0, description="open tasks the member holds now")
    max_concurrent_tasks: int = Field(default=2, ge=0)
    recent_load: float = Field(default=0.0, ge=0.0)
    avg_rating: float | None = Field(default=None, ge=1.0, le=5.0)
    rating_count: int = Field(default=0, ge=0)
    declined_or_no_show_task_ids: frozenset[int] = frozenset()


class CityMap(BaseModel):
    """The parts of the hierarchy matching needs: grid adjacency and who belongs to whom.

    `neighbours` must be symmetric (as `grid_adjacency` stores it). A community or grid missing
    from a map simply matches nothing at the levels that need it.
    """

    model_config = ConfigDict(frozen=True)

    neighbours: dict[int, frozenset[int]] = {}
    grid_community: dict[int, int] = {}
    community_subdistrict: dict[int, int] = {}
    subdistrict_district: dict[int, int] = {}


class MatchWeights(BaseModel):
    """How much each part of the score counts; the defaults are the product's policy."""

    model_config = ConfigDict(frozen=True)

    proximity: float = 1.0
    skills: float = 0.6
    fairness: float = 0.4
    quality: float = 0.3
    unit_spread: float = 0.2          # per already-chosen member of the same unit (single task)
    # Proximity tiers as fractions of `proximity`: same grid > adjacent > same community > wider.
    tier_same_grid: float = 1.0
    tier_adjacent: float = 0.7
    tier_same_community: float = 0.4
    tier_same_subdistrict: float = 0.15
    # Fairness: full credit for an idle member, half credit at `fairness_half_load` recent services.
    fairness_half_load: float = Field(default=2.0, gt=0.0)
    # Quality: ratings are shrunk towards `rating_prior_mean` as if it had `rating_prior_count` votes.
    rating_prior_mean: float = Field(default=4.0, ge=1.0, le=5.0)
    rating_prior_count: float = Field(default=3.0, ge=0.0)
    # Batch: the k-th task of the same batch for one member costs (k-1) * batch_fairness_step more.
    batch_fairness_step: float = Field(default=0.25, ge=0.0)
    # Batch: what leaving one headcount slot unfilled costs, in score units; above any score
    # (about 2.5 at most), so a slot stays open only when nobody eligible is left. Kept modest
    # because the flow solver's cost scaling slows with the cost range.
    unfilled_penalty: float = Field(default=10.0, gt=0.0)


class ScoreParts(BaseModel):
    """Why a member scored what they did for a task; stored with every offer."""

    model_config = ConfigDict(frozen=True)

    proximity: float
    skills: float
    fairness: float
    quality: float
    unit_spread: float
    total: float


class Assignment(BaseModel):
    """One member chosen for one task, with the parts of the score that chose them."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    member_id: int
    score: ScoreParts


class MatchResult(BaseModel):
    """The assignment of a batch: who goes where, which slots stay open, and what it cost.

    `cost` is the solver's integer objective (lower is better) so two methods can be compared
    exactly; `unfilled` maps a task id to its open headcount and omits fully staffed tasks.
    """

    model_config = ConfigDict(frozen=True)

    assignments: list[Assignment]
    unfilled: dict[int, int]
    cost: int
    method: str
