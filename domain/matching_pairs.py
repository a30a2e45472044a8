"""The candidate pairs of a batch: only (task, member) pairs that pass every hard constraint.

A burst has thousands of tasks and a city of members; the full cross product would be a billion
pairs. Members are sorted once per key (home grid, registration community, its subdistrict and
district) and each task reads only its slices, so the work is proportional to the pairs that
exist. Filters and scores run on numpy arrays with the same formulas as `domain.matching`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from itertools import chain
from operator import attrgetter, itemgetter

import numpy as np
import numpy.typing as npt

from domain.matching import SCORE_SCALE
from schemas.matching import CityMap, EscalationLevel, MatchWeights, MemberCandidate, ScoreParts, TaskSpec

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_NONE = -1  # stands for a missing id in the integer arrays
_MAX_ID = 2**31 - 1
_MAX_EXACT = 2**53  # ids above this would not survive a float64 column


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
    # Declines and no-shows (rare): member index and task id, one row per pair to leave out.
    declined_member: IntArray
    declined_task: IntArray


_SCALARS = attrgetter(
    "member_id", "home_grid_id", "community_id", "subdistrict_id", "active_registration_community_id",
    "current_load", "max_concurrent_tasks", "recent_load", "avg_rating", "rating_count", "paused",
)
_SETS = attrgetter("skills", "free_slots", "declined_or_no_show_task_ids")


def _flat(sets: Sequence[frozenset[int]]) -> tuple[IntArray, IntArray]:
    """The elements of every set in one array, and each set's size (C-level iteration only)."""
    sizes = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
    flat = np.fromiter(chain.from_iterable(sets), dtype=np.int64, count=int(sizes.sum()))
    return flat, sizes


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a step makes hundreds of thousands of objects.

    None of them is garbage, yet each is tracked, and the collector's oldest generation is
    triggered again and again as they pile up, re-scanning all of them each time (measured: 2x
    the result models at 320,000 assignments, 2x the member columns at 1,000,000 members).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def member_columns(members: Sequence[MemberCandidate], city: CityMap, weights: MatchWeights) -> MemberColumns:
    """Turn members into columns: two C-level passes over the objects, numpy for the rest.

    At a megacity's 1,000,000 members every touch of a member object is a cache miss, so the
    fields are read in one pass (`attrgetter` over all of them) and everything after runs on
    arrays. The scores use the formulas of `domain.matching` (`fairness_credit`,
    `quality_credit`) in the same floating-point order, so every value is bit-identical to the
    per-member functions'.
    """
    n = len(members)
    # One pass over the objects makes a million small tuples; the collector stays paused until
    # they are gone (its next run would otherwise scan them all), and None becomes NaN in the
    # float64 table (ids up to 2**53 survive it exactly).
    with collector_paused():
        rows = list(map(_SCALARS, members))
        table = np.array(rows, dtype=np.float64).reshape(n, 11)
        del rows
        sets = list(map(_SETS, members))
        skill_sets: list[frozenset[str]] = list(map(itemgetter(0), sets))
        slot_sets: list[frozenset[int]] = list(map(itemgetter(1), sets))
        declined_sets: list[frozenset[int]] = list(map(itemgetter(2), sets))
        del sets
    if n and np.nanmax(np.abs(table[:, :5]), initial=0.0) > _MAX_EXACT:
        raise ValueError("member, grid and community ids must be below 2**53")

    def ids(k: int) -> IntArray:
        return np.where(np.isnan(table[:, k]), _NONE, table[:, k]).astype(np.int64)

    # Skills: bits in order of first appearance; members share a few hundred distinct sets.
    distinct = dict.fromkeys(skill_sets)
    skill_bits: dict[str, int] = {s: b for b, s in enumerate(dict.fromkeys(chain.from_iterable(distinct)))}
    set_masks = [sum(1 << skill_bits[s] for s in skill_set) for skill_set in distinct]
    for code, skill_set in enumerate(distinct):
        distinct[skill_set] = code
    skill_codes = np.fromiter(map(distinct.__getitem__, skill_sets), dtype=np.int64, count=n)
    # Free-time slots: nearly every member's set is their own; one mask per member by segments.
    flat, sizes = _flat(slot_sets)
    free = np.zeros(n, dtype=np.int64)
    filled = sizes > 0
    if flat.size:
        free[filled] = np.add.reduceat(np.left_shift(1, flat), (np.cumsum(sizes) - sizes)[filled])
    # Declines and no-shows are rare: kept as (member index, task id) pairs.
    declined_task, declined_sizes = _flat(declined_sets)
    declined_member = np.repeat(np.arange(n, dtype=np.int64), declined_sizes)

    grid, reg = ids(1), ids(4)
    reg_sd = _lookup(city.community_subdistrict, reg)
    current, most = table[:, 5].astype(np.int64), table[:, 6].astype(np.int64)
    recent, rating = table[:, 7], table[:, 8]
    # quality_credit: n votes only with a rating, the prior alone when there are no votes at all
    votes = np.where(np.isnan(rating), 0, table[:, 9].astype(np.int64))
    prior_n = weights.rating_prior_count
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = np.where(
            votes + prior_n == 0,
            weights.rating_prior_mean,
            (weights.rating_prior_mean * prior_n + np.nan_to_num(rating, nan=0.0) * votes) / (prior_n + votes),
        )
    half = weights.fairness_half_load
    return MemberColumns(
        grid=grid,
        community=ids(2),
        subdistrict=ids(3),
        reg=reg,
        reg_subdistrict=reg_sd,
        reg_district=_lookup(city.subdistrict_district, reg_sd),
        grid_community=_lookup(city.grid_community, grid),
        free=free,
        ok=(table[:, 10] == 0) & (current < most),
        remaining=np.maximum(0, most - current),
        fairness=weights.fairness * (half / (half + recent)),
        quality=weights.quality * ((smoothed - 1.0) / 4.0),
        skills=_mask_words(set_masks, max(1, (len(skill_bits) + 63) // 64))[skill_codes],
        member_id=table[:, 0].astype(np.int64),
        skill_bits=skill_bits,
        declined_member=declined_member,
        declined_task=declined_task,
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


# Tasks per chunk of pair building: a chunk's pairs keep every temporary array small enough to be
# reused by the allocator (and mostly in cache), where a megacity's 10^7 pairs at once spend as
# much time in page faults as in arithmetic. A batch of up to _CHUNK_TASKS is one chunk in task
# order; a larger one goes in community order, _LARGE_BATCH_CHUNK tasks at a time (a quarter of
# the old 4,096: measured 0.24 -> 0.17 s CPU for 10,000 tasks; the same pairs per task, only the
# order of tasks between chunks differs).
_CHUNK_TASKS = 4096
_LARGE_BATCH_CHUNK = 1024
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


def _keep_best(ti: IntArray, local: IntArray, score: IntArray, limit: IntArray) -> IntArray:
    """The positions of the pairs among their task's best `limit[task]` by score (ties: in the
    order found), in order. `local`: a key per pair that tells its chunk's tasks apart.

    Ranking needs pairs by task, then by score descending, ties by position. Scores span a few
    thousand and a chunk's tasks a few thousand, so this is two stable radix sorts on 16-bit keys
    (score, then task) instead of a comparison sort on 64-bit ones.
    """
    if ti.size == 0:
        return np.zeros(0, dtype=np.int64)
    worst = score.max() - score
    if int(worst.max()) < 2**16 and int(local.max()) < 2**16:
        by_score = np.argsort(worst.astype(np.uint16), kind="stable")
        order = by_score[np.argsort(local[by_score].astype(np.uint16), kind="stable")]
    else:
        order = np.argsort((ti << 32) | worst, kind="stable")
    sorted_tasks = ti[order]
    starts = np.flatnonzero(np.r_[True, sorted_tasks[1:] != sorted_tasks[:-1]])
    sizes = np.diff(np.r_[starts, ti.size])
    rank = np.arange(ti.size, dtype=np.int64) - np.repeat(starts, sizes)
    return np.sort(order[rank < limit[sorted_tasks]])


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
    # Declines and no-shows are rare: dropped by key (task position x members + member index).
    task_ids = np.fromiter((t.task_id for t in tasks), dtype=np.int64, count=len(tasks))
    task_pos = _lookup(dict(zip(task_ids.tolist(), range(len(tasks)), strict=True)), mc.declined_task)
    in_batch = task_pos != _NONE
    declined = task_pos[in_batch] * len(members) + mc.declined_member[in_batch]
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
    chunk_pos = np.empty(len(tasks), dtype=np.int64)
    step = _CHUNK_TASKS if perm is None else _LARGE_BATCH_CHUNK
    chunk_pos[task_order] = np.arange(len(tasks), dtype=np.int64) % step
    chunks = [
        _chunk_pairs(task_order[lo : lo + step], tasks, city, weights, local, tc,
                     indexes, adjacency_keys, declined, perm, per_slot, chunk_pos)
        for lo in range(0, max(len(tasks), 1), step)
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
        task_ids=task_ids,
        member_ids=mc.member_id,
    )


_NOT_PER_MEMBER = ("skill_bits", "declined_member", "declined_task")


def _permuted(mc: MemberColumns, perm: IntArray) -> MemberColumns:
    """The same columns with member `perm[i]` at position i."""
    return MemberColumns(
        **{f.name: getattr(mc, f.name)[perm] for f in fields(MemberColumns) if f.name not in _NOT_PER_MEMBER},
        **{name: getattr(mc, name) for name in _NOT_PER_MEMBER},
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
    chunk_pos: IntArray,
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
    # The tiers in order of precedence (np.where from the lowest up; np.select is 3x slower).
    tier = np.where(same_sd, weights.tier_same_subdistrict, 0.0)
    tier = np.where(same_comm, weights.tier_same_community, tier)
    tier = np.where(adjacent, weights.tier_adjacent, tier)
    tier = np.where(same_grid, weights.tier_same_grid, tier)
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
        sel = _keep_best(ti, chunk_pos[ti], score_int, per_slot * tc.headcount)
        return (ti[sel], mi[sel], proximity[sel], skills[sel], fairness[sel], quality[sel], total[sel],
                score_int[sel])
    return ti, mi, proximity, skills, fairness, quality, total, score_int
