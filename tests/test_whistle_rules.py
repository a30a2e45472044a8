"""The pure rules of 吹哨报到: who is summoned at each level, when to urge, what a deadline leads to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import whistle as rules
from domain.whistle import Candidate, Outcome, Place
from schemas.dispatch import Urgency
from schemas.whistle import WhistleLevel, WhistleStatus

HOME = Place(community_id=1, subdistrict_id=10)
CANDIDATES = [
    Candidate(unit_id=100, basis="located", community_id=1, subdistrict_id=10),
    Candidate(unit_id=100, basis="registered", community_id=1, subdistrict_id=10),
    Candidate(unit_id=101, basis="agreement", community_id=1, subdistrict_id=10),
    Candidate(unit_id=101, basis="registered", community_id=2, subdistrict_id=10),
    Candidate(unit_id=102, basis="registered", community_id=2, subdistrict_id=10),
    Candidate(unit_id=103, basis="located", community_id=2, subdistrict_id=10),
    Candidate(unit_id=104, basis="registered", community_id=3, subdistrict_id=11),
]


def test_each_level_summons_its_own_units_once_with_the_closest_basis() -> None:
    """The community summons units located, registered or paired there (closest tie named); the
    subdistrict only units registered with its other communities; the district only those of other
    subdistricts; a unit already summoned is never summoned again."""
    community = rules.choose_units(WhistleLevel.community, HOME, CANDIDATES, set())
    assert community == [(100, "registered"), (101, "agreement")]
    already = {u for u, _ in community}
    assert rules.choose_units(WhistleLevel.subdistrict, HOME, CANDIDATES, already) == [(102, "registered")]
    already |= {102}
    assert rules.choose_units(WhistleLevel.district, HOME, CANDIDATES, already) == [(104, "registered")]


def test_a_deadline_climbs_until_the_top_then_goes_short_handed_or_parks() -> None:
    """Covered anywhere goes ahead; short below the top climbs; short at the top goes ahead with
    some people and parks with none."""
    assert rules.outcome(WhistleLevel.community, committed=5, needed=5) is Outcome.covered
    assert rules.outcome(WhistleLevel.community, committed=4, needed=5) is Outcome.climb
    assert rules.outcome(WhistleLevel.subdistrict, committed=0, needed=5) is Outcome.climb
    assert rules.outcome(WhistleLevel.district, committed=2, needed=5) is Outcome.short_handed
    assert rules.outcome(WhistleLevel.district, committed=0, needed=5) is Outcome.park
    assert rules.next_level(WhistleLevel.district) is None


def test_urging_comes_at_half_the_window_and_upper_levels_get_the_window_again() -> None:
    """Silent units are urged halfway to the level's deadline; a level above gets the community's
    window again but never less than the minimum; the urgency sets the default respond-by."""
    start = datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert rules.urge_at(start, start + timedelta(hours=2)) == start + timedelta(hours=1)
    assert rules.level_window(timedelta(hours=2), timedelta(minutes=30)) == timedelta(hours=2)
    assert rules.level_window(timedelta(minutes=5), timedelta(minutes=30)) == timedelta(minutes=30)
    assert rules.default_respond_by(Urgency.red, start) == start + timedelta(hours=2)
    assert rules.default_respond_by(Urgency.blue, start) == start + timedelta(hours=72)


def test_status_moves_never_go_back_from_closed_or_on_site() -> None:
    """A closed whistle stays closed; one on site only closes; a parked one can still be answered."""
    assert rules.from_statuses(WhistleStatus.closed) == [WhistleStatus.summoning, WhistleStatus.responded,
                                                         WhistleStatus.on_site, WhistleStatus.parked]
    assert not rules.can_move(WhistleStatus.on_site, WhistleStatus.responded)
    assert rules.can_move(WhistleStatus.parked, WhistleStatus.responded)
    assert all(not rules.can_move(WhistleStatus.closed, s) for s in WhistleStatus)
