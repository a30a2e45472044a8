"""The candidate pairs of a batch: only (task, member) pairs that pass every hard constraint.

A burst has thousands of tasks and a city of members; the full cross product would be a billion
pairs. Members are sorted once per key (home grid, registration community, its subdistrict and
district) and each task reads only its slices, so the work is proportional to the pairs that
exist. Filters and scores run on numpy arrays with the same formulas as `domain.matching`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from domain.matching import SCORE_SCALE, fairness_credit, quality_credit
from schemas.matching import CityMap, EscalationLevel, MatchWeights, MemberCandidate, ScoreParts, TaskSpec

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_NONE = -1  # stands for a missing id in the integer arrays
_MAX_ID = 2**31 - 1


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
    headcount: IntArray   # per task
    remaining: IntArray   # per member: free capacity (max concurrent - current load)
    # Per task and per member: a key such that every pair joins equal keys' groups (the task's
    # community, the member's registration community); the flow splits the batch along them.
    task_group: IntArray
    member_group: IntArray
    task_ids: IntArray     # per task: its task_id
    member_ids: IntArray   # per member: its member_id

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


def _slot_mask(slots: frozenset[int]) -> int:
    mask = 0
    for s in slots:
        mask |= 1 << s
    return mask


def _mask_words(masks: Sequence[int], words: int) -> npt.NDArray[np.uint64]:
    """Python-int bit masks as rows of 64-bit words (numpy has no wider integers)."""
    out = np.zeros((len(masks), words), dtype=np.uint64)
    low = (1 << 64) - 1
    for w in range(words):
        out[:, w] = np.array([(mask >> (64 * w)) & low for mask in masks], dtype=np.uint64)
    return out


@dataclass(frozen=True)
class MemberColumns:
    """The members of a batch as numpy columns, with the search indexes over them.

    Built once per member set (`member_columns`) and reusable for any number of task batches
    over the same members and map, e.g. the successive windows of a long mobilisation.
    """

    grid: IntArray
    community: IntArray
    subdistrict: IntArray
    reg: IntArray
    reg_subdistrict: IntArray
    reg_district: IntArray
    grid_community: IntArray
    free: IntArray
    ok: npt.NDArray[np.bool_]
    remaining: IntArray
    fairness: FloatArray
    quality: FloatArray
    skills: npt.NDArray[np.uint64]
    member_id: IntArray
    skill_bits: dict[str, int]


def member_columns(members: Sequence[MemberCandidate], city: CityMap, weights: MatchWeights) -> MemberColumns:
    """Turn members into columns in one pass (the Python-object part of building pairs)."""
    ints: list[tuple[int, int, int, int, int, int, int]] = []
    floats: list[tuple[float, float]] = []
    skill_bits: dict[str, int] = {}
    skill_masks: list[int] = []
    for m in members:
        mask = 0
        for s in m.skills:
            mask |= 1 << skill_bits.setdefault(s, len(skill_bits))
        skill_masks.append(mask)
        ints.append(
            (
                _NONE if m.home_grid_id is None else m.home_grid_id,
                _NONE if m.community_id is None else m.community_id,
                _NONE if m.subdistrict_id is None else m.subdistrict_id,
                _NONE if m.active_registration_community_id is None else m.active_registration_community_id,
                _slot_mask(m.free_slots),
                int(not m.paused and m.current_load < m.max_concurrent_tasks),
                max(0, m.max_concurrent_tasks - m.current_load),
            )
        )
        floats.append(
            (
                weights.fairness * fairness_credit(m.recent_load, weights),
                weights.quality * quality_credit(m.avg_rating, m.rating_count, weights),
            )
        )
    table = np.array(ints, dtype=np.int64).reshape(len(members), 7)
    ftable = np.array(floats, dtype=np.float64).reshape(len(members), 2)
    grid, reg = table[:, 0].copy(), table[:, 3].copy()
    reg_sd = _lookup(city.community_subdistrict, reg)
    return MemberColumns(
        grid=grid,
        community=table[:, 1].copy(),
        subdistrict=table[:, 2].copy(),
        reg=reg,
        reg_subdistrict=reg_sd,
        reg_district=_lookup(city.subdistrict_district, reg_sd),
        grid_community=_lookup(city.grid_community, grid),
        free=table[:, 4].copy(),
        ok=table[:, 5].astype(np.bool_),
        remaining=table[:, 6].copy(),
        fairness=ftable[:, 0].copy(),
        quality=ftable[:, 1].copy(),
        skills=_mask_words(skill_masks, max(1, (len(skill_bits) + 63) // 64)),
        member_id=np.fromiter((m.member_id for m in members), dtype=np.int64, count=len(members)),
        skill_bits=skill_bits,
    )


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


# Tasks per chunk of pair building: a chunk's pairs (a few hundred thousand) keep every temporary
# array small enough to be reused by the allocator, where a megacity's 10^7 pairs at once spend as
# much time in page faults as in arithmetic. A batch this size or smaller is one chunk.
_CHUNK_TASKS = 4096
_LEVEL_CODES = {level: code for code, level in enumerate(EscalationLevel)}


@dataclass(frozen=True)
class _TaskColumns:
    grid: IntArray
    comm: IntArray
    sd: IntArray
    district: IntArray
    win: IntArray
    level: IntArray
    skills: npt.NDArray[np.uint64]
    need: FloatArray
    headcount: IntArray


def _keep_best(ti: IntArray, score: IntArray, limit: IntArray) -> npt.NDArray[np.bool_]:
    """Which pairs are among their task's best `limit[task]` by score (ties: in the order found)."""
    if ti.size == 0:
        return np.zeros(0, dtype=np.bool_)
    # one int64 key per pair, task in the high bits, score descending below: one stable sort
    order = np.argsort((ti << 32) | (score.max() - score), kind="stable")
    sorted_tasks = ti[order]
    starts = np.flatnonzero(np.r_[True, sorted_tasks[1:] != sorted_tasks[:-1]])
    sizes = np.diff(np.r_[starts, ti.size])
    rank = np.arange(ti.size, dtype=np.int64) - np.repeat(starts, sizes)
    keep = np.zeros(ti.size, dtype=np.bool_)
    keep[order[rank < limit[sorted_tasks]]] = True
    return keep


def candidate_pairs(
    tasks: Sequence[TaskSpec],
    members: Sequence[MemberCandidate],
    adjacency: CityMap,
    weights: MatchWeights,
    *,
    columns: MemberColumns | None = None,
    per_slot: int | None = None,
) -> CandidatePairs:
    """Every eligible (task, member) pair of a batch at each task's own level, scored.

    Pass `columns` (from `member_columns` over the same members, map and weights) to skip
    rebuilding them. `per_slot`: keep only each task's best `per_slot * headcount` pairs (a
    megacity burst: the flow then solves a few dozen arcs per task instead of hundreds, at a
    measured cost gap, see bench.matching --megacity); None keeps every eligible pair.
    """
    city = adjacency
    # Grid and community ids are packed two to an int64 key below.
    if any(t.grid_id > _MAX_ID or t.community_id > _MAX_ID for t in tasks) or any(
        g > _MAX_ID for g in city.grid_community
    ):
        raise ValueError("grid and community ids must be below 2**31")
    mc = columns if columns is not None else member_columns(members, city, weights)
    t_comm = np.fromiter((t.community_id for t in tasks), dtype=np.int64, count=len(tasks))
    t_sd = _lookup(city.community_subdistrict, t_comm)
    # Skills: a skill no member has is not in the bit table; it still counts in what a task needs.
    t_masks = [sum(1 << mc.skill_bits[s] for s in t.required_skills if s in mc.skill_bits) for t in tasks]
    tc = _TaskColumns(
        grid=np.fromiter((t.grid_id for t in tasks), dtype=np.int64, count=len(tasks)),
        comm=t_comm,
        sd=t_sd,
        district=_lookup(city.subdistrict_district, t_sd),
        win=np.fromiter((_slot_mask(t.window_slots) for t in tasks), dtype=np.int64, count=len(tasks)),
        level=np.fromiter((_LEVEL_CODES[t.level] for t in tasks), dtype=np.int64, count=len(tasks)),
        skills=_mask_words(t_masks, mc.skills.shape[1]),
        need=np.fromiter((len(t.required_skills) for t in tasks), dtype=np.float64, count=len(tasks)),
        headcount=np.fromiter((t.headcount for t in tasks), dtype=np.int64, count=len(tasks)),
    )
    # Declines and no-shows are rare: dropped by key.
    task_pos = {t.task_id: i for i, t in enumerate(tasks)}
    declined = np.array(
        [
            task_pos[tid] * len(members) + j
            for j, mem in enumerate(members)
            if mem.declined_or_no_show_task_ids
            for tid in mem.declined_or_no_show_task_ids
            if tid in task_pos
        ],
        dtype=np.int64,
    )
    adjacency_keys = _adjacency_keys(city)
    task_order = np.arange(len(tasks), dtype=np.int64)
    perm: IntArray | None = None
    if len(tasks) > _CHUNK_TASKS:
        # A large batch: tasks in community order, members relabelled in registration-community
        # order, so one chunk's tasks read a few contiguous stretches of the member columns
        # instead of the whole city's (at 1,000,000 members every random read misses the cache).
        task_order = np.argsort(t_comm, kind="stable")
        perm = np.argsort(mc.reg, kind="stable")
    local = mc if perm is None else _permuted(mc, perm)
    present = set(tc.level.tolist())
    indexes = {
        EscalationLevel.grid: _Index(local.grid),
        **{
            level: _Index(key)
            for level, key in (
                (EscalationLevel.community, local.reg),
                (EscalationLevel.subdistrict, local.reg_subdistrict),
                (EscalationLevel.district, local.reg_district),
            )
            if _LEVEL_CODES[level] in present
        },
    }
    chunks = [
        _chunk_pairs(task_order[lo : lo + _CHUNK_TASKS], tasks, city, weights, local, tc,
                     indexes, adjacency_keys, declined, perm, per_slot)
        for lo in range(0, max(len(tasks), 1), _CHUNK_TASKS)
    ]
    ti, mi, proximity, skills, fairness, quality, total, score_int = (
        np.concatenate([c[k] for c in chunks]) for k in range(8)
    )
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
        score_int=score_int,
        headcount=tc.headcount,
        remaining=mc.remaining,
        task_group=t_comm,
        member_group=mc.reg,
        task_ids=np.fromiter((t.task_id for t in tasks), dtype=np.int64, count=len(tasks)),
        member_ids=mc.member_id,
    )


def _permuted(mc: MemberColumns, perm: IntArray) -> MemberColumns:
    """The same columns with member `perm[i]` at position i."""
    return MemberColumns(
        **{f.name: getattr(mc, f.name)[perm] for f in fields(MemberColumns) if f.name != "skill_bits"},
        skill_bits=mc.skill_bits,
    )


def _chunk_pairs(
    span: IntArray,
    tasks: Sequence[TaskSpec],
    city: CityMap,
    weights: MatchWeights,
    mc: MemberColumns,
    tc: _TaskColumns,
    indexes: dict[EscalationLevel, _Index],
    adjacency_keys: IntArray,
    declined: IntArray,
    perm: IntArray | None,
    per_slot: int | None,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, IntArray]:
    """The scored pairs of the tasks `span` (task index, member index, score parts, score).

    `mc` holds member `perm[i]` at position i when `perm` is given; the member indexes returned
    are the members' own.
    """
    levels = tc.level[span]

    def at(level: EscalationLevel) -> IntArray:
        return np.asarray(span[levels == _LEVEL_CODES[level]], dtype=np.int64)

    owners: list[IntArray] = []
    mates: list[IntArray] = []
    # Grid level: home grid is the task's grid, registered with the task's community.
    idx = at(EscalationLevel.grid)
    o, m = _expand(indexes[EscalationLevel.grid], idx, tc.grid[idx])
    keep = mc.reg[m] == tc.comm[o]
    owners.append(o[keep])
    mates.append(m[keep])
    # Adjacent level: home grid is the task's or a neighbour; registered with the task's
    # community or their own grid's community (the same rule as `hard_constraint_violations`).
    idx = at(EscalationLevel.adjacent)
    adj_owner = [i for i in idx.tolist() for _ in range(1 + len(city.neighbours.get(tasks[i].grid_id, ())))]
    adj_grid = [g for i in idx.tolist() for g in (tasks[i].grid_id, *city.neighbours.get(tasks[i].grid_id, ()))]
    o, m = _expand(
        indexes[EscalationLevel.grid], np.array(adj_owner, dtype=np.int64), np.array(adj_grid, dtype=np.int64)
    )
    keep = (mc.reg[m] == tc.comm[o]) | ((mc.reg[m] == mc.grid_community[m]) & (mc.reg[m] != _NONE))
    owners.append(o[keep])
    mates.append(m[keep])
    # Community, subdistrict and district levels: one slice of the matching registration key.
    for level, task_key in (
        (EscalationLevel.community, tc.comm),
        (EscalationLevel.subdistrict, tc.sd),
        (EscalationLevel.district, tc.district),
    ):
        idx = at(level)
        if idx.size:
            o, m = _expand(indexes[level], idx, task_key[idx])
            owners.append(o)
            mates.append(m)
    ti = np.concatenate(owners)
    mi = np.concatenate(mates)
    # Time window, paused, load.
    keep = mc.ok[mi] & ((mc.free[mi] & tc.win[ti]) == tc.win[ti])
    ti, mi = ti[keep], mi[keep]
    if declined.size:
        keep = ~np.isin(ti * mc.grid.size + (mi if perm is None else perm[mi]), declined)
        ti, mi = ti[keep], mi[keep]
    # Proximity tiers.
    t_grid = tc.grid[ti]
    m_grid = mc.grid[mi]
    same_grid = (m_grid == t_grid) & (m_grid != _NONE)
    adjacent = _contains(adjacency_keys, (t_grid << 32) | m_grid) & (m_grid != _NONE)
    same_comm = (mc.community[mi] == tc.comm[ti]) & (mc.community[mi] != _NONE)
    same_sd = (mc.subdistrict[mi] == tc.sd[ti]) & (mc.subdistrict[mi] != _NONE)
    tier = np.select(
        [same_grid, adjacent, same_comm, same_sd],
        [weights.tier_same_grid, weights.tier_adjacent, weights.tier_same_community, weights.tier_same_subdistrict],
        default=0.0,
    )
    proximity = weights.proximity * tier
    # Skills: share of the task's required skills the member has.
    need = tc.need[ti]
    have = np.bitwise_count(mc.skills[mi] & tc.skills[ti]).sum(axis=1).astype(np.float64)
    covered = np.divide(have, need, out=np.ones_like(have), where=need > 0)
    skills = weights.skills * covered
    fairness = mc.fairness[mi]
    quality = mc.quality[mi]
    total = proximity + skills + fairness + quality
    score_int = np.rint(total * SCORE_SCALE).astype(np.int64)
    if perm is not None:
        mi = perm[mi]
    if per_slot is not None:
        keep = _keep_best(ti, score_int, per_slot * tc.headcount)
        return (ti[keep], mi[keep], proximity[keep], skills[keep], fairness[keep], quality[keep], total[keep],
                score_int[keep])
    return ti, mi, proximity, skills, fairness, quality, total, score_int
