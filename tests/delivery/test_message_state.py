"""The per-message state table, tested directly (no I/O in that module)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iotcs_hw.messaging import Reliability
from iotcs_hw.transport.message_state import (
    TRANSITIONS,
    IllegalTransition,
    MessageEvent,
    MessageState,
    after_failure,
    max_attempts,
    next_state,
)

S, E = MessageState, MessageEvent


def test_the_table_is_exactly_the_documented_life() -> None:
    moves = {(s, e, t) for s, row in TRANSITIONS.items() for e, t in row.items()}
    assert moves == {
        (S.QUEUED, E.TAKE, S.INFLIGHT),
        (S.QUEUED, E.DROP, S.DEAD),
        (S.INFLIGHT, E.ACK, S.ACKED),
        (S.INFLIGHT, E.RETRY, S.RETRY),
        (S.INFLIGHT, E.FAIL, S.DEAD),
        (S.INFLIGHT, E.RELEASE, S.QUEUED),
        (S.RETRY, E.TAKE, S.INFLIGHT),
        (S.RETRY, E.DROP, S.DEAD),
    }


@pytest.mark.parametrize(
    ("state", "event"),
    [(s, e) for s in S for e in E if e not in TRANSITIONS[s]],
)
def test_every_other_move_is_refused_with_its_names(state: S, event: E) -> None:
    with pytest.raises(IllegalTransition) as info:
        next_state(state, event)
    assert str(info.value) == f"can't {event.value} when state={state.value}"


def test_final_states_have_no_way_out() -> None:
    assert TRANSITIONS[S.ACKED] == {}
    assert TRANSITIONS[S.DEAD] == {}


def test_an_inflight_message_cannot_be_dropped() -> None:
    with pytest.raises(IllegalTransition, match="can't drop when state=INFLIGHT"):
        next_state(S.INFLIGHT, E.DROP)


def test_attempt_budgets_follow_reliability() -> None:
    assert max_attempts(Reliability.NO_GUARANTEE, 3) == 4
    assert max_attempts(Reliability.BEST_EFFORT, 3) == 7
    assert max_attempts(Reliability.GUARANTEED_DELIVERY, 3) is None
    assert max_attempts(Reliability.NO_GUARANTEE, 0) == 1
    with pytest.raises(ValueError, match="base_retries must be >= 0, got -1"):
        max_attempts(Reliability.BEST_EFFORT, -1)


def test_after_failure_retries_until_the_budget_is_spent() -> None:
    assert [after_failure(Reliability.NO_GUARANTEE, n, 3) for n in range(1, 6)] == [
        E.RETRY,
        E.RETRY,
        E.RETRY,
        E.FAIL,
        E.FAIL,
    ]


@given(attempts=st.integers(1, 10_000), base=st.integers(0, 50))
def test_guaranteed_delivery_is_always_retried(attempts: int, base: int) -> None:
    assert after_failure(Reliability.GUARANTEED_DELIVERY, attempts, base) is E.RETRY


@given(attempts=st.integers(1, 200), base=st.integers(0, 50))
def test_best_effort_gets_twice_the_retries_of_no_guarantee(attempts: int, base: int) -> None:
    ng = after_failure(Reliability.NO_GUARANTEE, attempts, base)
    be = after_failure(Reliability.BEST_EFFORT, attempts, base)
    assert (ng is E.RETRY) == (attempts <= base)
    assert (be is E.RETRY) == (attempts <= 2 * base)
