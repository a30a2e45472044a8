"""The candidate pairs of a batch: only (task, member) pairs that pass every hard constraint.

A burst has thousands of tasks and a city of members; the full cross product would be a billion
pairs. Members are sorted once per key (home grid, registration community, its subdistrict and
district) and each task reads only its slices, so the work is proportional to the pairs that
exist. Filters and scores run on numpy arrays with the same formulas as `domain.matching`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.matching import SCORE_SCALE, fairness_credit, quality_credit
from schemas.matching import CityMap, EscalationLevel, MatchWeights, MemberCandidate, ScoreParts, TaskSpec

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_NONE = -1  # stands for a missing id in the integer arrays


@dataclass(frozen=True)
class CandidatePairs:
    """Eligible pairs as parallel arrays; index `i` is one pair, its score parts alongside."""

    tasks: Sequence[TaskSpec]
    members: Sequence[MemberCandidate]
    task_idx: IntArray
    member_idx: IntArray
    proximity: FloatArray
    skills: FloatArray
    fairness: FloatArray
    quality: FloatArray
    total: FloatArray
    score_int: IntArray   # round(total * SCORE_SCALE): what the solvers optimise

    def __len__(self) -> int:
        return int(self.task_idx.shape[0])

    def parts(self, i: int) -> ScoreParts:
        """The score parts of pair `i` (no unit spread: batch scores are per pair)."""
        return ScoreParts(
            proximity=float(self.proximity[i]),
            skills=float(self.skills[i]),
            fairness=float(self.fairness[i]),
            quality=float(self.quality[i]),
            unit_spread=0.0,
            total=float(self.total[i]),
        )


def _ids(values: Sequence[int | None]) -> IntArray:
    return np.fromiter((_NONE if v is None else v for v in values), dtype=np.int64, count=len(values))


def _slot_mask(slots: frozenset[int]) -> int:
    mask = 0
    for s in slots:
        mask |= 1 << s
    return mask


def _skill_masks(skill_sets: Sequence[frozenset[str]], vocab: dict[str, int], words: int) -> npt.NDArray[np.uint64]:
    out = np.zeros((len(skill_sets), words), dtype=np.uint64)
    for i, skills in enumerate(skill_sets):
        for s in skills:
            bit = vocab.get(s)
            if bit is not None:
                out[i, bit // 64] |= np.uint64(1 << (bit % 64))
    return out


class _Index:
    """Members sorted by one key, so a task finds its members by binary search."""

    def __init__(self, keys: IntArray) -> None:
        self.order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[self.order]

    def slices(self, query: IntArray) -> tuple[IntArray, IntArray]:
        lo = np.searchsorted(self.sorted_keys, query, side="left")
        hi = np.searchsorted(self.sorted_keys, query, side="right")
        missing = query == _NONE
        hi[missing] = lo[missing]
        return lo.astype(np.int64), hi.astype(np.int64)


def _expand(index: _Index, owners: IntArray, query: IntArray) -> tuple[IntArray, IntArray]:
    """All (owner, member) pairs where the member's key equals the owner's query key."""
    lo, hi = index.slices(query)
    counts = hi - lo
    total = int(counts.sum())
    owner = np.repeat(owners, counts)
    starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    positions = np.arange(total, dtype=np.int64) + starts
    return owner, index.order[positions].astype(np.int64)


def _lookup(mapping: dict[int, int], keys: IntArray) -> IntArray:
    """`mapping[k]` for each key, _NONE where missing; vectorised through a sorted key table."""
    if not mapping:
        return np.full(keys.shape, _NONE, dtype=np.int64)
    src = np.fromiter(mapping.keys(), dtype=np.int64, count=len(mapping))
    dst = np.fromiter(mapping.values(), dtype=np.int64, count=len(mapping))
    order = np.argsort(src)
    src, dst = src[order], dst[order]
    pos = np.clip(np.searchsorted(src, keys), 0, len(src) - 1)
    return np.where(src[pos] == keys, dst[pos], _NONE)


def _adjacency_keys(city: CityMap) -> IntArray:
    keys = [(g << 32) | n for g, ns in city.neighbours.items() for n in ns]
    return np.unique(np.array(keys, dtype=np.int64))


def _contains(sorted_keys: IntArray, keys: IntArray) -> npt.NDArray[np.bool_]:
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=np.bool_)
    pos = np.clip(np.searchsorted(sorted_keys, keys), 0, sorted_keys.size - 1)
    return np.asarray(sorted_keys[pos] == keys)


def candidate_pairs(
    tasks: Sequence[TaskSpec],
    members: Sequence[MemberCandidate],
    adjacency: CityMap,
    weights: MatchWeights,
) -> CandidatePairs:
    """Every eligible (task, member) pair of a batch at each task's own level, scored."""
    city = adjacency
    # Member columns.
    m_grid = _ids([m.home_grid_id for m in members])
    m_comm = _ids([m.community_id for m in members])
    m_sd = _ids([m.subdistrict_id for m in members])
    m_reg = _ids([m.active_registration_community_id for m in members])
    m_reg_sd = _lookup(city.community_subdistrict, m_reg)
    m_reg_d = _lookup(city.subdistrict_district, m_reg_sd)
    m_grid_comm = _lookup(city.grid_community, m_grid)
    m_free = np.fromiter((_slot_mask(m.free_slots) for m in members), dtype=np.int64, count=len(members))
    m_ok = np.fromiter(
        (not m.paused and m.current_load < m.max_concurrent_tasks for m in members),
        dtype=np.bool_,
        count=len(members),
    )
    m_fair = np.fromiter(
        (weights.fairness * fairness_credit(m.recent_load, weights) for m in members),
        dtype=np.float64,
        count=len(members),
    )
    m_qual = np.fromiter(
        (weights.quality * quality_credit(m.avg_rating, m.rating_count, weights) for m in members),
        dtype=np.float64,
        count=len(members),
    )
    # Task columns.
    t_grid = _ids([t.grid_id for t in tasks])
    t_comm = _ids([t.community_id for t in tasks])
    t_sd = _lookup(city.community_subdistrict, t_comm)
    t_d = _lookup(city.subdistrict_district, t_sd)
    t_win = np.fromiter((_slot_mask(t.window_slots) for t in tasks), dtype=np.int64, count=len(tasks))
    levels = [t.level for t in tasks]

    def at(level: EscalationLevel) -> IntArray:
        return np.array([i for i, lv in enumerate(levels) if lv is level], dtype=np.int64)

    by_grid = _Index(m_grid)
    owners: list[IntArray] = []
    mates: list[IntArray] = []
    # Grid level: home grid is the task's grid, registered with the task's community.
    idx = at(EscalationLevel.grid)
    o, m = _expand(by_grid, idx, t_grid[idx])
    keep = m_reg[m] == t_comm[o]
    owners.append(o[keep])
    mates.append(m[keep])
    # Adjacent level: home grid is the task's or a neighbour; registered with the task's
    # community or their own grid's community (the same rule as `hard_constraint_violations`).
    idx = at(EscalationLevel.adjacent)
    adj_owner = [i for i in idx.tolist() for _ in range(1 + len(city.neighbours.get(tasks[i].grid_id, ())))]
    adj_grid = [g for i in idx.tolist() for g in (tasks[i].grid_id, *city.neighbours.get(tasks[i].grid_id, ()))]
    o, m = _expand(by_grid, np.array(adj_owner, dtype=np.int64), np.array(adj_grid, dtype=np.int64))
    keep = (m_reg[m] == t_comm[o]) | ((m_reg[m] == m_grid_comm[m]) & (m_reg[m] != _NONE))
    owners.append(o[keep])
    mates.append(m[keep])
    # Community, subdistrict and district levels: one slice of the matching registration key.
    for level, member_key, task_key in (
        (EscalationLevel.community, m_reg, t_comm),
        (EscalationLevel.subdistrict, m_reg_sd, t_sd),
        (EscalationLevel.district, m_reg_d, t_d),
    ):
        idx = at(level)
        o, m = _expand(_Index(member_key), idx, task_key[idx])
        owners.append(o)
        mates.append(m)
    ti = np.concatenate(owners)
    mi = np.concatenate(mates)
    # Time window, paused, load.
    keep = m_ok[mi] & ((m_free[mi] & t_win[ti]) == t_win[ti])
    ti, mi = ti[keep], mi[keep]
    # Declines and no-shows are rare: drop them by key.
    task_pos = {t.task_id: i for i, t in enumerate(tasks)}
    declined = [
        task_pos[tid] * len(members) + j
        for j, mem in enumerate(members)
        for tid in mem.declined_or_no_show_task_ids
        if tid in task_pos
    ]
    if declined:
        keys = ti * len(members) + mi
        keep = ~np.isin(keys, np.array(declined, dtype=np.int64))
        ti, mi = ti[keep], mi[keep]
    # Proximity tiers.
    same_grid = (m_grid[mi] == t_grid[ti]) & (m_grid[mi] != _NONE)
    adjacent = _contains(_adjacency_keys(city), (t_grid[ti] << 32) | m_grid[mi]) & (m_grid[mi] != _NONE)
    same_comm = (m_comm[mi] == t_comm[ti]) & (m_comm[mi] != _NONE)
    same_sd = (m_sd[mi] == t_sd[ti]) & (m_sd[mi] != _NONE)
    tier = np.select(
        [same_grid, adjacent, same_comm, same_sd],
        [weights.tier_same_grid, weights.tier_adjacent, weights.tier_same_community, weights.tier_same_subdistrict],
        default=0.0,
    )
    proximity = weights.proximity * tier
    # Skills: share of the task's required skills the member has.
    vocab: dict[str, int] = {}
    for t in tasks:
        for s in sorted(t.required_skills):
            vocab.setdefault(s, len(vocab))
    words = max(1, (len(vocab) + 63) // 64)
    t_sk = _skill_masks([t.required_skills for t in tasks], vocab, words)
    m_sk = _skill_masks([m.skills for m in members], vocab, words)
    need = np.bitwise_count(t_sk).sum(axis=1).astype(np.float64)
    have = np.bitwise_count(m_sk[mi] & t_sk[ti]).sum(axis=1).astype(np.float64)
    t_need = need[ti]
    covered = np.divide(have, t_need, out=np.ones_like(have), where=t_need > 0)
    skills = weights.skills * covered
    fairness = m_fair[mi]
    quality = m_qual[mi]
    total = proximity + skills + fairness + quality
    return CandidatePairs(
        tasks=tasks,
        members=members,
        task_idx=ti,
        member_idx=mi,
        proximity=proximity,
        skills=skills,
        fairness=fairness,
        quality=quality,
        total=total,
        score_int=np.rint(total * SCORE_SCALE).astype(np.int64),
    )
