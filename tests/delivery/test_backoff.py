"""Backoff delays: Fibonacci x base on overload, constant on network errors, bounded."""

from __future__ import annotations

import pytest

from iotcs_hw.transport.backoff import Backoff, FailureKind, fibonacci


def test_fibonacci_numbers() -> None:
    assert [fibonacci(n) for n in range(1, 13)] == [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144]
    with pytest.raises(ValueError, match="fibonacci index must be >= 1, got 0"):
        fibonacci(0)


def test_overload_grows_by_fibonacci_times_base() -> None:
    b = Backoff(base_s=0.5)
    delays = [b.next_delay(FailureKind.OVERLOADED) for _ in range(7)]
    assert delays == [0.5, 0.5, 1.0, 1.5, 2.5, 4.0, 6.5]
    assert b.failures == 7


def test_factor_and_delay_are_capped() -> None:
    b = Backoff(base_s=1.0, max_factor=144, max_delay_s=1000.0)
    delays = [b.next_delay(FailureKind.OVERLOADED) for _ in range(15)]
    assert delays[11] == 144.0
    assert delays[12:] == [144.0, 144.0, 144.0]
    capped = Backoff(base_s=1.0, max_delay_s=10.0)
    assert max(capped.next_delay(FailureKind.OVERLOADED) for _ in range(20)) == 10.0


def test_network_errors_wait_a_constant_base_and_do_not_grow() -> None:
    b = Backoff(base_s=2.0)
    assert [b.next_delay(FailureKind.NETWORK) for _ in range(5)] == [2.0] * 5
    assert b.next_delay(FailureKind.OVERLOADED) == 2.0


def test_reset_starts_over() -> None:
    b = Backoff(base_s=1.0)
    for _ in range(5):
        b.next_delay(FailureKind.OVERLOADED)
    b.reset()
    assert b.next_delay(FailureKind.OVERLOADED) == 1.0


def test_bounds_are_validated() -> None:
    with pytest.raises(ValueError, match=r"backoff base_s=0.01 is below the minimum 0.1 s"):
        Backoff(base_s=0.01)
    with pytest.raises(ValueError, match="max_factor must be >= 1"):
        Backoff(max_factor=0)
