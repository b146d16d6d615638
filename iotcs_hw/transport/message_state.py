"""The life of one outbox message as an explicit transition table (no I/O here).

::

    QUEUED --take--> INFLIGHT --ack--> ACKED
      ^                 |  \\--retry--> RETRY --take--> INFLIGHT
      |                 |  \\--fail---> DEAD
      +----release------+             (RETRY --drop--> DEAD, QUEUED --drop--> DEAD)

``release`` puts a message back without counting an attempt (the batch was split after a 4xx,
or the process restarted while it was in flight).  ``drop`` is the overflow policy evicting a
message that was never sent or is waiting for a retry.  :func:`after_failure` decides between
``retry`` and ``fail`` from the reliability (protocol §6.1), so the dispatcher's policy is a pure
function that tests can exercise without threads or sockets.
"""

from __future__ import annotations

import enum

from iotcs_hw.messaging.message import Reliability


class MessageState(enum.Enum):
    """Where a message is in its delivery."""

    QUEUED = "QUEUED"
    INFLIGHT = "INFLIGHT"
    ACKED = "ACKED"
    RETRY = "RETRY"
    DEAD = "DEAD"


class MessageEvent(enum.Enum):
    """What can happen to a message."""

    TAKE = "take"
    ACK = "ack"
    RETRY = "retry"
    FAIL = "fail"
    RELEASE = "release"
    DROP = "drop"


class IllegalTransition(RuntimeError):
    """A message was moved in a way the table forbids: a bug in the dispatcher."""


S = MessageState
E = MessageEvent

#: ``TRANSITIONS[state][event]`` is the next state; a missing entry is an illegal move.
TRANSITIONS: dict[MessageState, dict[MessageEvent, MessageState]] = {
    S.QUEUED: {E.TAKE: S.INFLIGHT, E.DROP: S.DEAD},
    S.INFLIGHT: {E.ACK: S.ACKED, E.RETRY: S.RETRY, E.FAIL: S.DEAD, E.RELEASE: S.QUEUED},
    S.RETRY: {E.TAKE: S.INFLIGHT, E.DROP: S.DEAD},
    S.ACKED: {},
    S.DEAD: {},
}

#: States in which a message is finished and its row is deleted.
FINAL_STATES = frozenset({S.ACKED, S.DEAD})


def next_state(state: MessageState, event: MessageEvent) -> MessageState:
    """The state after ``event``; raises :class:`IllegalTransition` for a forbidden move."""
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition(f"can't {event.value} when state={state.value}") from None


def max_attempts(reliability: Reliability, base_retries: int) -> int | None:
    """How many sends a message gets in all (§6.1); None means unlimited.

    NO_GUARANTEE gets ``base_retries`` retries, BEST_EFFORT twice as many, and
    GUARANTEED_DELIVERY retries until the server takes it.
    """
    if base_retries < 0:
        raise ValueError(f"base_retries must be >= 0, got {base_retries}")
    if reliability is Reliability.GUARANTEED_DELIVERY:
        return None
    retries = base_retries if reliability is Reliability.NO_GUARANTEE else 2 * base_retries
    return 1 + retries


def after_failure(reliability: Reliability, attempts: int, base_retries: int) -> MessageEvent:
    """``RETRY`` or ``FAIL`` for a message whose ``attempts``-th send just failed (retryably)."""
    limit = max_attempts(reliability, base_retries)
    if limit is not None and attempts >= limit:
        return MessageEvent.FAIL
    return MessageEvent.RETRY
