"""The whole-batch assignment: optimal over all tasks of a burst at once, as a min-cost flow.

Network (every capacity and cost an integer; scores are scaled by `SCORE_SCALE`):

    task t  --(cap 1, cost OFFSET - score)-->  member m        one arc per candidate pair
    member m --(cap 1, cost k * step)-->        sink            k = 0, 1, ... remaining capacity - 1
    task t  --(cap headcount, cost OFFSET + P)--> sink          the slots nobody fills

Each task supplies its headcount and the sink absorbs the total, so a solution always exists
(the network has no source node: task supplies do its job). A slot stays unfilled only when
filling it would cost more than P (`unfilled_penalty`, far above any score), in practice when no
eligible member with capacity is left. The member->sink arcs cost more for each further task of
the same batch (convex: the k-th costs (k-1) * step), which is the fairness penalty: the solver
spreads work before it piles it on. OFFSET keeps the pair costs non-negative and cancels out:
every headcount slot pays it once, filled or not. The unit-spread part of the score is left out
here because it couples members of the same task; batch costs stay linear per pair, and the
wave offers (`rank_candidates`) apply it per task.

The batch falls apart into blocks that share no task and no member (communities linked by their
registrations and adjacent-grid tasks); each block is its own network. That is still exact, and
several small networks solve far faster than one large one.

`assignment_cost` prices any assignment the same way, so the greedy baseline and the
tests' brute force are compared with the flow on one scale.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from ortools.graph.python import min_cost_flow
from pydantic import TypeAdapter

from domain.matching import SCORE_SCALE
from domain.matching_pairs import CandidatePairs, IntArray, collector_paused
from schemas.matching import Assignment, MatchResult, MatchWeights, MemberCandidate, TaskSpec

_ASSIGNMENTS = TypeAdapter(list[Assignment])


def _scaled(value: float) -> int:
    return round(value * SCORE_SCALE)


def assignment_cost(pairs: CandidatePairs, chosen: IntArray, weights: MatchWeights) -> int:
    """The batch objective of choosing pairs `chosen` (indexes into `pairs`); lower is better.

    Minus the chosen scores, plus the fairness penalty (0 + step + 2*step + ... per member),
    plus the penalty of every unfilled headcount slot.
    """
    step = _scaled(weights.batch_fairness_step)
    penalty = _scaled(weights.unfilled_penalty)
    per_member = np.bincount(pairs.member_idx[chosen], minlength=len(pairs.members))
    per_task = np.bincount(pairs.task_idx[chosen], minlength=len(pairs.tasks))
    unfilled = np.maximum(pairs.headcount - per_task, 0)
    fairness = step * int((per_member * (per_member - 1) // 2).sum())
    return -int(pairs.score_int[chosen].sum()) + fairness + penalty * int(unfilled.sum())


def _result(pairs: CandidatePairs, chosen: IntArray, weights: MatchWeights, method: str) -> MatchResult:
    chosen = np.sort(chosen)
    per_task = np.bincount(pairs.task_idx[chosen], minlength=len(pairs.tasks))
    unfilled = pairs.headcount - per_task
    # One validation call over plain dicts runs in pydantic's Rust core: faster for tens of
    # thousands of assignments than constructing the models one by one in Python.
    columns = zip(
        pairs.task_ids[pairs.task_idx[chosen]].tolist(),
        pairs.member_ids[pairs.member_idx[chosen]].tolist(),
        pairs.proximity[chosen].tolist(),
        pairs.skills[chosen].tolist(),
        pairs.fairness[chosen].tolist(),
        pairs.quality[chosen].tolist(),
        pairs.total[chosen].tolist(),
        strict=True,
    )
    # Hundreds of thousands of new objects in one call: the cyclic collector would re-scan the
    # growing heap many times over while they are made (none is garbage), measured 2x the call
    # at a megacity's 320,000 assignments; paused for this call only.
    with collector_paused():
        assignments = _ASSIGNMENTS.validate_python(
            [
                {
                    "task_id": task_id,
                    "member_id": member_id,
                    "score": {
                        "proximity": proximity,
                        "skills": skills,
                        "fairness": fairness,
                        "quality": quality,
                        "unit_spread": 0.0,
                        "total": total,
                    },
                }
                for task_id, member_id, proximity, skills, fairness, quality, total in columns
            ]
        )
    return MatchResult(
        assignments=assignments,
        unfilled={pairs.tasks[i].task_id: int(n) for i, n in enumerate(unfilled.tolist()) if n > 0},
        cost=assignment_cost(pairs, chosen, weights),
        method=method,
    )


def _components(pairs: CandidatePairs) -> IntArray:
    """A block label per pair such that no task or member has pairs in two blocks.

    Union-find over the group keys (a handful per community) rather than over a million pairs:
    a pair joins its task's group and its member's group. The flow then solves each block on
    its own, which is exact (blocks share no node) and much faster than one large network.
    """
    # One int64 key per (task group, member group) edge: a 1-D unique is far cheaper than axis=0.
    task_keys = pairs.task_group[pairs.task_idx]
    keyed = np.unique((task_keys << 32) | (pairs.member_group[pairs.member_idx] & 0xFFFFFFFF))
    edges = np.stack([keyed >> 32, (keyed & 0xFFFFFFFF).astype(np.int32).astype(np.int64)], axis=1)
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in edges.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    keys = np.array(list(parent), dtype=np.int64)
    roots = np.array([find(k) for k in keys.tolist()], dtype=np.int64)
    order = np.argsort(keys)
    keys, roots = keys[order], roots[order]
    # Blocks numbered 0.. (a few thousand at most in practice), so ordering pairs by block is a
    # radix sort on 16-bit labels.
    _, labels = np.unique(roots, return_inverse=True)
    return np.asarray(labels[np.searchsorted(keys, task_keys)], dtype=np.int64)


def _solve_block(pairs: CandidatePairs, sel: IntArray, step: int, penalty: int) -> IntArray:
    """The optimal choice among pairs `sel`, which share no task or member with other pairs."""
    tasks, task_node = np.unique(pairs.task_idx[sel], return_inverse=True)
    members, member_node = np.unique(pairs.member_idx[sel], return_inverse=True)
    n_tasks = len(tasks)
    sink = n_tasks + len(members)
    heads = pairs.headcount[tasks]
    scores = pairs.score_int[sel]
    offset = max(0, int(scores.max()))

    # Member -> sink: one unit arc per remaining slot, never more than the member's pair count.
    degree = np.bincount(member_node, minlength=len(members))
    arcs_per_member = np.minimum(pairs.remaining[members], degree)
    fair_tail = np.repeat(n_tasks + np.arange(len(members), dtype=np.int64), arcs_per_member)
    fair_k = np.arange(int(arcs_per_member.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(arcs_per_member) - arcs_per_member, arcs_per_member
    )
    task_nodes = np.arange(n_tasks, dtype=np.int64)
    tails = np.concatenate([task_node.astype(np.int64), fair_tail, task_nodes])
    arc_heads = np.concatenate(
        [n_tasks + member_node.astype(np.int64), np.full(fair_tail.shape, sink), np.full(n_tasks, sink)]
    )
    caps = np.concatenate([np.ones(len(sel), dtype=np.int64), np.ones(fair_tail.shape, dtype=np.int64), heads])
    costs = np.concatenate([offset - scores, fair_k * step, np.full(n_tasks, offset + penalty, dtype=np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, arc_heads, caps, costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_tasks] = heads
    supplies[sink] = -int(heads.sum())
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        # Cannot happen for a well-formed network (the unfilled arcs make it always feasible).
        raise RuntimeError(f"min-cost flow status {status}")
    pair_flows = flow.flows(np.arange(len(sel), dtype=np.int64))
    return np.asarray(sel[pair_flows > 0], dtype=np.int64)


def solve_batch(pairs: CandidatePairs, weights: MatchWeights, *, split: bool = True) -> IntArray:
    """The indexes of the pairs in an optimal batch assignment (the min-cost flow itself).

    Tasks without any pair need no solver: all their slots stay unfilled. `split=False` solves
    one network for the whole batch (same optimum, slower; the benchmark shows both).
    """
    if len(pairs) == 0:
        return np.zeros(0, dtype=np.int64)
    step = _scaled(weights.batch_fairness_step)
    penalty = _scaled(weights.unfilled_penalty)
    if not split:
        return np.sort(_solve_block(pairs, np.arange(len(pairs), dtype=np.int64), step, penalty))
    block = _components(pairs)
    small = block.astype(np.uint16) if int(block.max()) < 2**16 else block
    order = np.argsort(small, kind="stable")
    ordered = block[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    bounds = [*starts.tolist(), len(order)]
    chosen = [_solve_block(pairs, order[a:b], step, penalty) for a, b in itertools.pairwise(bounds)]
    return np.sort(np.concatenate(chosen))


def _check_pairs_match(tasks: Sequence[TaskSpec], members: Sequence[MemberCandidate], pairs: CandidatePairs) -> None:
    if len(pairs.tasks) != len(tasks) or len(pairs.members) != len(members):
        raise ValueError("pairs were built for other tasks or members")


def assign_batch(
    tasks: Sequence[TaskSpec],
    members: Sequence[MemberCandidate],
    pairs: CandidatePairs,
    weights: MatchWeights,
) -> MatchResult:
    """The optimal assignment of a whole batch over its candidate pairs (from `candidate_pairs`)."""
    _check_pairs_match(tasks, members, pairs)
    return _result(pairs, solve_batch(pairs, weights), weights, "min_cost_flow")


def greedy_batch(pairs: CandidatePairs, weights: MatchWeights) -> IntArray:
    """The pairs one-task-at-a-time greedy picks: each task in turn takes its best remaining members.

    A member's value to a task is their score minus the fairness cost of one more task for them,
    so greedy optimises the same objective as the flow, only myopically.
    """
    step = _scaled(weights.batch_fairness_step)
    penalty = _scaled(weights.unfilled_penalty)
    order = np.argsort(pairs.task_idx, kind="stable")
    bounds = np.searchsorted(pairs.task_idx[order], np.arange(len(pairs.tasks) + 1))
    used = np.zeros(len(pairs.members), dtype=np.int64)
    remaining = pairs.remaining
    chosen: list[IntArray] = []
    for t, task in enumerate(pairs.tasks):
        cand = order[bounds[t] : bounds[t + 1]]
        if cand.size == 0:
            continue
        m = pairs.member_idx[cand]
        value = pairs.score_int[cand] - used[m] * step
        ok = (used[m] < remaining[m]) & (value > -penalty)
        cand, m, value = cand[ok], m[ok], value[ok]
        best = np.argsort(-value, kind="stable")[: task.headcount]
        used[m[best]] += 1
        chosen.append(cand[best])
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def greedy_assign(
    tasks: Sequence[TaskSpec],
    members: Sequence[MemberCandidate],
    pairs: CandidatePairs,
    weights: MatchWeights,
) -> MatchResult:
    """The one-task-at-a-time greedy baseline over the same pairs, priced like the flow."""
    _check_pairs_match(tasks, members, pairs)
    return _result(pairs, greedy_batch(pairs, weights), weights, "greedy")
