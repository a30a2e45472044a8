"""Who may be offered a task, and how good a fit they are: the single-task rules.

Pure: no I/O, no clock, no temporalio, so the dispatch workflow's activities and the tests call
the same functions. The batch side (candidate pairs and the min-cost-flow assignment) lives in
`domain.matching_pairs` and `domain.matching_flow` and scores with exactly these formulas.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from schemas.matching import (
    CityMap,
    EscalationLevel,
    MatchWeights,
    MemberCandidate,
    ScoreParts,
    TaskSpec,
)

REASON_NOT_REGISTERED = "未在本社区报到"
REASON_NOT_REGISTERED_SUBDISTRICT = "未在本街道报到"
REASON_NOT_REGISTERED_DISTRICT = "未在本区报到"
REASON_OUTSIDE_GRID = "不在本网格"
REASON_OUTSIDE_ADJACENT = "不在本网格或相邻网格"
REASON_TIME = "时间不匹配"
REASON_PAUSED = "已暂停"
REASON_FULL = "任务数已满"
REASON_DECLINED = "已拒绝或爽约过本任务"

# Scores are turned into integers for the flow solver; 1/1000 of a point is finer than any weight.
SCORE_SCALE = 1000


def _registration_violation(
    task: TaskSpec, member: MemberCandidate, level: EscalationLevel, city: CityMap
) -> list[str]:
    reg = member.active_registration_community_id
    if reg is None:
        return [REASON_NOT_REGISTERED]
    if level is EscalationLevel.grid:
        reasons = [] if reg == task.community_id else [REASON_NOT_REGISTERED]
        if member.home_grid_id != task.grid_id:
            reasons.append(REASON_OUTSIDE_GRID)
        return reasons
    if level is EscalationLevel.adjacent:
        home = member.home_grid_id
        if home is None or (home != task.grid_id and home not in city.neighbours.get(task.grid_id, ())):
            return [REASON_OUTSIDE_ADJACENT]
        # A neighbour grid's member serves through their own grid's community (or the task's).
        if reg != task.community_id and reg != city.grid_community.get(home):
            return [REASON_NOT_REGISTERED]
        return []
    if level is EscalationLevel.community:
        return [] if reg == task.community_id else [REASON_NOT_REGISTERED]
    task_sd = city.community_subdistrict.get(task.community_id)
    reg_sd = city.community_subdistrict.get(reg)
    if level is EscalationLevel.subdistrict:
        ok = task_sd is not None and reg_sd == task_sd
        return [] if ok else [REASON_NOT_REGISTERED_SUBDISTRICT]
    task_d = city.subdistrict_district.get(task_sd) if task_sd is not None else None
    reg_d = city.subdistrict_district.get(reg_sd) if reg_sd is not None else None
    ok = task_d is not None and reg_d == task_d
    return [] if ok else [REASON_NOT_REGISTERED_DISTRICT]


def hard_constraint_violations(
    task: TaskSpec, member: MemberCandidate, level: EscalationLevel, adjacency: CityMap
) -> list[str]:
    """Why `member` may not be offered `task` at `level`; an empty list means eligible."""
    reasons = _registration_violation(task, member, level, adjacency)
    if not task.window_slots <= member.free_slots:
        reasons.append(REASON_TIME)
    if member.paused:
        reasons.append(REASON_PAUSED)
    if member.current_load >= member.max_concurrent_tasks:
        reasons.append(REASON_FULL)
    if task.task_id in member.declined_or_no_show_task_ids:
        reasons.append(REASON_DECLINED)
    return reasons


def proximity_tier(task: TaskSpec, member: MemberCandidate, city: CityMap, weights: MatchWeights) -> float:
    """Same grid > adjacent grid > same community > same subdistrict > wider, as a fraction."""
    if member.home_grid_id is not None and member.home_grid_id == task.grid_id:
        return weights.tier_same_grid
    if member.home_grid_id is not None and member.home_grid_id in city.neighbours.get(task.grid_id, ()):
        return weights.tier_adjacent
    if member.community_id is not None and member.community_id == task.community_id:
        return weights.tier_same_community
    task_sd = city.community_subdistrict.get(task.community_id)
    if member.subdistrict_id is not None and member.subdistrict_id == task_sd:
        return weights.tier_same_subdistrict
    return 0.0


def fairness_credit(recent_load: float, weights: MatchWeights) -> float:
    """Full credit for an idle member, halving at `fairness_half_load` recent services."""
    return weights.fairness_half_load / (weights.fairness_half_load + recent_load)


def quality_credit(avg_rating: float | None, rating_count: int, weights: MatchWeights) -> float:
    """The Bayesian-smoothed rating mapped to 0..1, so two 5-star votes do not beat fifty 4.8s."""
    n = rating_count if avg_rating is not None else 0
    prior_n = weights.rating_prior_count
    if n + prior_n == 0:
        smoothed = weights.rating_prior_mean
    else:
        smoothed = (weights.rating_prior_mean * prior_n + (avg_rating or 0.0) * n) / (prior_n + n)
    return (smoothed - 1.0) / 4.0


def score(
    task: TaskSpec,
    member: MemberCandidate,
    adjacency: CityMap,
    weights: MatchWeights,
    *,
    same_unit_chosen: int = 0,
) -> ScoreParts:
    """The fit of one member for one task, part by part; `same_unit_chosen` drives unit spread."""
    proximity = weights.proximity * proximity_tier(task, member, adjacency, weights)
    if task.required_skills:
        covered = len(task.required_skills & member.skills) / len(task.required_skills)
    else:
        covered = 1.0
    skills = weights.skills * covered
    fairness = weights.fairness * fairness_credit(member.recent_load, weights)
    quality = weights.quality * quality_credit(member.avg_rating, member.rating_count, weights)
    unit_spread = -weights.unit_spread * same_unit_chosen
    return ScoreParts(
        proximity=proximity,
        skills=skills,
        fairness=fairness,
        quality=quality,
        unit_spread=unit_spread,
        total=proximity + skills + fairness + quality + unit_spread,
    )


def rank_candidates(
    task: TaskSpec,
    members: Iterable[MemberCandidate],
    adjacency: CityMap,
    weights: MatchWeights,
    *,
    level: EscalationLevel | None = None,
    limit: int | None = None,
) -> list[tuple[MemberCandidate, ScoreParts]]:
    """Eligible members for one task, best first, for offer waves.

    Unit spread is applied as the list is built: each member's score counts the members of the
    same employer unit already ranked above them, so one unit does not fill a whole wave.
    `level` defaults to the level the task has climbed to.
    """
    at = level if level is not None else task.level
    eligible = [m for m in members if not hard_constraint_violations(task, m, at, adjacency)]
    base = {m.member_id: score(task, m, adjacency, weights) for m in eligible}
    # One queue per unit, best first; members without a unit never pay the spread penalty.
    queues: dict[object, list[MemberCandidate]] = {}
    for m in eligible:
        key: object = ("unit", m.unit_id) if m.unit_id is not None else ("solo", m.member_id)
        queues.setdefault(key, []).append(m)
    for q in queues.values():
        q.sort(key=lambda m: (-base[m.member_id].total, m.member_id))
    chosen_per_unit: dict[object, int] = {}
    heap: list[tuple[float, int, object]] = []
    for key, q in queues.items():
        heapq.heappush(heap, (-base[q[0].member_id].total, q[0].member_id, key))
    ranked: list[tuple[MemberCandidate, ScoreParts]] = []
    cap = len(eligible) if limit is None else min(limit, len(eligible))
    while heap and len(ranked) < cap:
        _, _, key = heapq.heappop(heap)
        count = chosen_per_unit.get(key, 0)
        member = queues[key][count]
        ranked.append((member, score(task, member, adjacency, weights, same_unit_chosen=count)))
        chosen_per_unit[key] = count + 1
        if count + 1 < len(queues[key]):
            nxt = queues[key][count + 1]
            penalised = base[nxt.member_id].total - weights.unit_spread * (count + 1)
            heapq.heappush(heap, (-penalised, nxt.member_id, key))
    return ranked
