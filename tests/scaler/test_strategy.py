"""The scaling rules, unit-tested on hand-built readings: what an operator would see the pool do, without a cluster."""

from __future__ import annotations

import random
import time

import pytest

from scaler.strategy import Action, AlertKind, Reason, cap, decide
from tests.scaler.readings import reading, settings

NOW = time.time()


def test_ten_slots_eight_busy_grows_by_one_batch_to_fifteen() -> None:
    d = decide(reading(10, busy=range(8)), settings(), NOW)
    assert (d.action, d.target, d.reason) == (Action.UP, 15, Reason.SHORTAGE)
    assert "only 2 free" in d.detail


def test_slots_on_their_way_count_so_one_shortage_is_answered_once() -> None:
    # Right after 10 -> 15: 8 busy, 2 free, 5 placed but not healthy yet.
    r = reading(15, busy=range(8), missing=range(10, 15))
    assert (r.free, r.pending, r.pending_free) == (2, 5, 5)
    d = decide(r, settings(), NOW)
    assert d.action is Action.NONE and d.reason is Reason.BALANCED


def test_a_restarting_busy_slot_is_not_free_capacity_on_its_way() -> None:
    # Slot 3 holds a tenant and is restarting: it will come back busy, so it does not cover the shortage.
    r = reading(10, busy=[0, 1, 2, 4, 5, 6, 7], claimed_missing=[3])
    assert (r.free, r.pending, r.pending_free) == (2, 1, 0)
    assert decide(r, settings(), NOW).action is Action.UP


def test_slots_on_a_draining_node_are_not_free_and_its_tenants_need_slots_elsewhere() -> None:
    # Slots 1 and 5-9 run on a node being drained; slot 1 serves a tenant that must move.
    drained = reading(10, busy=[0, 1], leaving=[1, 5, 6, 7, 8, 9])
    assert (drained.free_indexes, drained.moving) == ((2, 3, 4), 1)
    d = decide(drained, settings(), NOW)
    assert (d.action, d.target, d.reason) == (Action.UP, 15, Reason.SHORTAGE)
    assert "1 to move off leaving nodes" in d.detail
    # The same pool with no node leaving has eight free slots: nothing to add.
    assert decide(reading(10, busy=[0, 1]), settings(), NOW).reason is Reason.BALANCED


def test_exactly_min_free_is_enough() -> None:
    assert decide(reading(10, busy=range(7)), settings(), NOW).action is Action.NONE


def test_a_deeper_shortage_than_one_batch_is_filled_at_once() -> None:
    s = settings(MIN_FREE_BOTS=8, SCALE_BATCH=2, MAX_FREE_BOTS=10)
    d = decide(reading(10, busy=range(10)), s, NOW)
    assert (d.action, d.target) == (Action.UP, 18)


def test_growth_stops_at_max_total_bots() -> None:
    d = decide(reading(98, busy=range(97)), settings(), NOW)
    assert (d.action, d.target) == (Action.UP, 100)


def test_the_jobs_scaling_max_caps_below_max_total_bots() -> None:
    r = reading(10, busy=range(9), scaling_max=12)
    assert cap(r, settings()) == 12
    assert decide(r, settings(), NOW).target == 12


def test_at_the_cap_with_no_free_slot_it_stops_and_alerts() -> None:
    s = settings(MAX_TOTAL_BOTS=20)
    d = decide(reading(20, busy=range(20)), s, NOW)
    assert (d.action, d.reason, d.target) == (Action.NONE, Reason.AT_CAP, 20)
    assert {a.kind for a in d.alerts} == {AlertKind.AT_MAX_NO_FREE, AlertKind.UTILISATION_HIGH}
    assert "maximum of 20" in next(a.message for a in d.alerts if a.kind is AlertKind.AT_MAX_NO_FREE)


def test_at_the_cap_with_a_free_slot_left_only_utilisation_alerts() -> None:
    d = decide(reading(20, busy=range(19)), settings(MAX_TOTAL_BOTS=20), NOW)
    assert d.reason is Reason.AT_CAP
    assert [a.kind for a in d.alerts] == [AlertKind.UTILISATION_HIGH]


@pytest.mark.parametrize(("busy", "alerted"), [(8, False), (9, True), (10, True)])
def test_utilisation_alert_above_eighty_percent(busy: int, alerted: bool) -> None:
    d = decide(reading(10, busy=range(busy)), settings(), NOW)
    assert (AlertKind.UTILISATION_HIGH in {a.kind for a in d.alerts}) is alerted


def test_idle_pool_shrinks_from_the_top_to_max_free() -> None:
    d = decide(reading(20, busy=range(5)), settings(), NOW)
    assert (d.action, d.target, d.reason) == (Action.IN, 15, Reason.EXCESS)


def test_a_busy_slot_at_the_top_blocks_any_shrink() -> None:
    d = decide(reading(20, busy=[0, 19]), settings(), NOW)
    assert (d.action, d.reason) == (Action.NONE, Reason.BUSY_AT_TOP)


def test_a_busy_slot_in_the_middle_limits_the_shrink_to_above_it() -> None:
    # 14 free > 10 wanted, so 4 should go, but slot 16 is busy: only 17..19 can be removed.
    d = decide(reading(20, busy=[0, 1, 2, 3, 4, 16]), settings(), NOW)
    assert (d.action, d.target) == (Action.IN, 17)


def test_fenced_and_unhealthy_slots_are_not_free_and_not_removed() -> None:
    r = reading(20, fenced=[19], unhealthy=[18])
    assert 19 not in r.free_indexes and 18 not in r.free_indexes
    assert r.shrink_floor == 20
    assert decide(r, settings(), NOW).action is Action.NONE


def test_a_claimed_slot_still_waiting_for_its_tenant_is_busy() -> None:
    r = reading(10, busy=range(8), active=False)
    assert (r.free, r.busy, r.active) == (2, 8, 0)
    assert decide(r, settings(), NOW).action is Action.UP


def test_slots_nomad_is_stopping_do_not_count_as_free() -> None:
    r = reading(10, busy=range(8), extra_slots=[10, 11, 12])
    assert r.free == 2
    assert decide(r, settings(), NOW).action is Action.UP


def test_no_shrink_during_the_cooldown_after_any_scale_event() -> None:
    s = settings(SCALE_IN_COOLDOWN=120)
    recent = decide(reading(20, last_scale_at=NOW - 60), s, NOW)
    assert (recent.action, recent.reason) == (Action.NONE, Reason.COOLDOWN)
    old = decide(reading(20, last_scale_at=NOW - 121), s, NOW)
    assert old.action is Action.IN


def test_no_shrink_while_slots_are_still_starting() -> None:
    d = decide(reading(20, missing=[19]), settings(), NOW)
    assert (d.action, d.reason) == (Action.NONE, Reason.PENDING)


def test_shrink_respects_the_groups_scaling_min_and_never_reaches_zero() -> None:
    s = settings(MIN_FREE_BOTS=1, SCALE_BATCH=1, MAX_FREE_BOTS=2)
    assert decide(reading(6, scaling_min=4), s, NOW).target == 4
    assert decide(reading(6, scaling_min=0), s, NOW).target == 2
    zero_free = settings(MIN_FREE_BOTS=1, SCALE_BATCH=1, MAX_FREE_BOTS=2)
    assert decide(reading(3, scaling_min=0), zero_free, NOW).target >= 1


def test_over_the_cap_shrinks_through_free_slots_only() -> None:
    s = settings(MAX_TOTAL_BOTS=10)
    d = decide(reading(12, busy=range(5)), s, NOW)
    assert (d.action, d.target, d.reason) == (Action.IN, 10, Reason.OVER_CAP)
    blocked = decide(reading(12, busy=[11]), s, NOW)
    assert (blocked.action, blocked.reason) == (Action.NONE, Reason.OVER_CAP)


def test_no_job_no_action() -> None:
    d = decide(reading(0, job_found=False), settings(), NOW)
    assert (d.action, d.reason) == (Action.NONE, Reason.NO_JOB)


def test_invariants_hold_on_thousands_of_random_pools() -> None:
    """Whatever the pool looks like: never above the cap, never removes a non-free slot, never flaps."""
    rng = random.Random(4)
    for _ in range(5000):
        desired = rng.randint(1, 40)
        indexes = list(range(desired))
        rng.shuffle(indexes)
        cut = [rng.randint(0, desired) for _ in range(4)]
        busy, missing, fenced, unhealthy = (set(indexes[: cut[0]]), set(indexes[cut[0]: cut[0] + cut[1] // 3]),
                                            set(indexes[-(cut[2] // 8):]) if cut[2] >= 8 else set(),
                                            {i for i in indexes if rng.random() < 0.05})
        missing -= busy
        fenced -= busy | missing
        min_free = rng.randint(1, 6)
        batch = rng.randint(1, 6)
        s = settings(
            MIN_FREE_BOTS=min_free, SCALE_BATCH=batch, MAX_FREE_BOTS=min_free + batch + rng.randint(0, 5),
            MAX_TOTAL_BOTS=rng.randint(max(min_free, batch), 50), SCALE_IN_COOLDOWN=rng.choice([0, 60]),
        )
        r = reading(
            desired, busy=busy, missing=missing, fenced=fenced, unhealthy=unhealthy - busy - missing,
            scaling_min=rng.randint(0, 3), scaling_max=rng.choice([None, 30, 60]),
            last_scale_at=rng.choice([None, NOW - 30, NOW - 600]),
        )
        d = decide(r, s, NOW)
        limit = cap(r, s)
        if d.action is Action.UP:
            assert r.desired < d.target <= limit
            assert r.free + r.pending_free < s.min_free
            # After the new slots arrive the pool must not be over MAX_FREE_BOTS (no flapping).
            assert r.free + r.pending_free + (d.target - r.desired) <= s.max_free
        elif d.action is Action.IN:
            assert 1 <= d.target < r.desired
            assert d.target >= r.scaling_min
            assert all(i in r.free_indexes for i in range(d.target, r.desired)), "would remove a non-free slot"
            assert not (busy & set(range(d.target, r.desired)))
            if d.reason is Reason.EXCESS:
                assert r.free - (r.desired - d.target) >= s.max_free >= s.min_free
        else:
            assert d.target == r.desired
