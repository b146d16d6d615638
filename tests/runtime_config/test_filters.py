"""Filters: ESPHome semantics, one by one, and numeric properties checked with hypothesis."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from iotcs_hw.runtime import filters as f
from iotcs_hw.runtime.config import model as m

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def feed_all(flt: f.Filter | f.FilterChain, values: list[float]) -> list[f.Value | None]:
    return [flt.feed(v) for v in values]


# --------------------------------------------------------------------------------------------
# Arithmetic


@given(finite, finite)
def test_offset_then_minus_offset_is_identity(x: float, k: float) -> None:
    chain = f.FilterChain([f.Offset(k), f.Offset(-k)])
    assert chain.feed(x) == pytest.approx(x, abs=1e-6)


@given(finite, st.floats(min_value=-100, max_value=100, allow_nan=False))
def test_multiply(x: float, k: float) -> None:
    assert f.Multiply(k).feed(x) == x * k


def test_nan_passes_through_arithmetic() -> None:
    assert math.isnan(f.Offset(1).feed(math.nan))  # type: ignore[arg-type]
    assert math.isnan(f.Clamp(0, 1).feed(math.nan))  # type: ignore[arg-type]
    assert math.isnan(f.Round(1).feed(math.nan))  # type: ignore[arg-type]


def test_calibrate_linear_two_points_is_exact() -> None:
    flt = f.CalibrateLinear([(2.8, 0.0), (1.2, 100.0)])
    assert flt.feed(2.8) == pytest.approx(0.0)
    assert flt.feed(1.2) == pytest.approx(100.0)
    assert flt.feed(2.0) == pytest.approx(50.0)


def test_calibrate_linear_least_squares_through_noisy_points() -> None:
    # y = 2x + 1 with symmetric noise: the fit recovers the line.
    points = [(0.0, 1.1), (1.0, 2.9), (2.0, 5.1), (3.0, 6.9)]
    slope, intercept = f.fit_line(points)
    assert slope == pytest.approx(1.96)
    assert intercept == pytest.approx(1.06)


def test_calibrate_linear_exact_interpolates_segments_and_extrapolates() -> None:
    flt = f.CalibrateLinear([(0, 0), (10, 100), (20, 120)], "exact")
    assert [flt.feed(x) for x in (5, 10, 15, 25, -5)] == [50, 100, 110, 130, -50]


@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=6, unique_by=lambda p: p[0]))
def test_exact_calibration_passes_through_every_datapoint(
    points: list[tuple[float, float]],
) -> None:
    xs = sorted(x for x, _ in points)
    assume(all(b - a > 1e-3 for a, b in itertools.pairwise(xs)))
    flt = f.CalibrateLinear(points, "exact")
    for x, y in points:
        assert flt.feed(x) == pytest.approx(y, rel=1e-6, abs=1e-6)


@given(
    st.lists(st.floats(min_value=-5, max_value=5, allow_nan=False), min_size=3, max_size=3),
    st.lists(
        st.floats(min_value=-10, max_value=10),
        min_size=4,
        max_size=8,
        unique_by=lambda x: round(x, 1),
    ),
)
def test_polynomial_fit_recovers_an_exact_quadratic(
    coefficients: list[float], xs: list[float]
) -> None:
    assume(max(xs) - min(xs) > 1.0)
    c0, c1, c2 = coefficients
    points = [(x, c0 + c1 * x + c2 * x * x) for x in xs]
    flt = f.CalibratePolynomial(points, 2)
    for x, y in points:
        assert flt.feed(x) == pytest.approx(y, rel=1e-5, abs=1e-5)


def test_polynomial_of_degree_one_equals_the_line() -> None:
    points = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]
    assert f.CalibratePolynomial(points, 1).coefficients == pytest.approx([1.0, 2.0])


@given(finite, finite, finite)
def test_clamp_keeps_values_in_bounds(x: float, a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    out = f.Clamp(low, high).feed(x)
    assert isinstance(out, float)
    assert low <= out <= high
    if low <= x <= high:
        assert out == x


def test_clamp_one_sided_and_dropping() -> None:
    assert f.Clamp(0, None).feed(-3) == 0
    assert f.Clamp(None, 10).feed(30) == 10
    drop = f.Clamp(0, 10, drop=True)
    assert feed_all(drop, [-1, 5, 11]) == [None, 5, None]


@pytest.mark.parametrize(
    ("decimals", "value", "expected"),
    [(1, 21.34, 21.3), (1, 21.35, 21.4), (0, 2.5, 3.0), (0, -2.5, -3.0), (2, 1.005, 1.0)],
)
def test_round_halves_away_from_zero(decimals: int, value: float, expected: float) -> None:
    # 1.005 is 1.00499999... in binary, so it rounds down, as ESPHome's roundf does.
    assert f.Round(decimals).feed(value) == expected


@given(finite, st.integers(min_value=0, max_value=6))
def test_round_is_idempotent_and_close(x: float, decimals: int) -> None:
    once = f.Round(decimals).feed(x)
    assert isinstance(once, float)
    assert f.Round(decimals).feed(once) == pytest.approx(once)
    assert abs(once - x) <= 0.5 * 10.0**-decimals + 1e-9 * max(1.0, abs(x))


@given(finite, st.sampled_from([0.5, 0.25, 2.0, 5.0]))
def test_round_to_multiple_of(x: float, step: float) -> None:
    out = f.RoundToMultipleOf(step).feed(x)
    assert isinstance(out, float)
    assert (out / step) == pytest.approx(round(out / step))
    assert abs(out - x) <= step / 2 + 1e-9


def test_filter_out_values_and_nan() -> None:
    flt = f.FilterOut([85.0, math.nan])
    assert feed_all(flt, [85.0, 21.0, math.nan]) == [None, 21.0, None]
    keep_nan = f.FilterOut([85.0])
    assert math.isnan(keep_nan.feed(math.nan))  # type: ignore[arg-type]


def test_invert() -> None:
    assert feed_all(f.Invert(), [True, False]) == [False, True]


# --------------------------------------------------------------------------------------------
# Windows


def test_median_window_emits_first_at_then_every() -> None:
    flt = f.Median(m.WindowOptions(window_size=5, send_every=5, send_first_at=1))
    out = feed_all(flt, [5, 1, 4, 2, 3, 9, 9])
    # First value emitted at once, then every fifth value, over the last five.
    assert out == [5, None, None, None, None, 3, None]


def test_median_of_an_even_window_is_the_mean_of_the_middle_two() -> None:
    flt = f.Median(m.WindowOptions(4, 4, 4))
    assert feed_all(flt, [1, 2, 3, 10]) == [None, None, None, 2.5]


def test_windows_skip_nan() -> None:
    flt = f.SlidingWindowMovingAverage(m.WindowOptions(3, 1, 1))
    assert feed_all(flt, [3, math.nan, 5]) == [3, 3, 4]
    all_nan = f.Min(m.WindowOptions(2, 1, 1))
    assert math.isnan(all_nan.feed(math.nan))  # type: ignore[arg-type]


def test_quantile_uses_nearest_rank() -> None:
    flt = f.Quantile(m.WindowOptions(10, 10, 10), 0.9)
    out = feed_all(flt, list(range(1, 11)))
    assert out[-1] == 9
    assert f.Quantile(m.WindowOptions(4, 4, 4), 0.0).compute([4, 1, 3, 2]) == 1


@given(
    st.lists(finite, min_size=1, max_size=40),
    st.integers(min_value=1, max_value=8),
    st.data(),
)
def test_window_emission_count_and_bounds(
    values: list[float], size: int, data: st.DataObject
) -> None:
    every = data.draw(st.integers(min_value=1, max_value=8))
    first = data.draw(st.integers(min_value=1, max_value=every))
    window = m.WindowOptions(size, every, first)
    for flt in (
        f.Median(window),
        f.Min(window),
        f.Max(window),
        f.SlidingWindowMovingAverage(window),
    ):
        out = feed_all(flt, values)
        emitted = [i for i, v in enumerate(out) if v is not None]
        # The first emission is at the send_first_at-th value, then every send_every.
        expected = list(range(first - 1, len(values), every))
        assert emitted == expected
        for i in emitted:
            recent = values[max(0, i - size + 1) : i + 1]
            v = out[i]
            assert isinstance(v, float)
            assert min(recent) - 1e-9 <= v <= max(recent) + 1e-9


@given(st.lists(finite, min_size=1, max_size=30))
def test_sliding_average_equals_the_mean(values: list[float]) -> None:
    flt = f.SlidingWindowMovingAverage(m.WindowOptions(5, 1, 1))
    out = feed_all(flt, values)
    for i, v in enumerate(out):
        assert v == pytest.approx(statistics.fmean(values[max(0, i - 4) : i + 1]), abs=1e-6)


@given(st.lists(finite, min_size=1, max_size=30), st.floats(min_value=0.01, max_value=1.0))
def test_ema_stays_within_the_seen_range(values: list[float], alpha: float) -> None:
    flt = f.ExponentialMovingAverage(alpha, 1, 1)
    for i, v in enumerate(feed_all(flt, values)):
        assert isinstance(v, float)
        assert min(values[: i + 1]) - 1e-6 <= v <= max(values[: i + 1]) + 1e-6


def test_ema_formula_and_counter() -> None:
    flt = f.ExponentialMovingAverage(0.5, 2, 1)
    assert feed_all(flt, [10, 20, 30, 40]) == [10, None, 22.5, None]


# --------------------------------------------------------------------------------------------
# Change and time


def test_delta_absolute_and_percent() -> None:
    assert feed_all(f.Delta(1.0), [20, 20.5, 21, 21.9, 19.9]) == [20, None, 21, None, 19.9]
    # 10 % of the last passed value: 100 -> needs 10, then 111 -> needs 11.1.
    assert feed_all(f.Delta(0.1, percent=True), [100, 109, 111, 121, 122.2]) == [
        100,
        None,
        111,
        None,
        122.2,
    ]


def test_delta_and_nan() -> None:
    flt = f.Delta(1.0)
    out = feed_all(flt, [math.nan, 5, math.nan, math.nan, 5])
    assert out[0] is None
    assert out[1] == 5
    assert math.isnan(out[2])  # type: ignore[arg-type]
    assert out[3] is None
    assert out[4] == 5


@given(st.lists(finite, min_size=1, max_size=40), st.floats(min_value=0.01, max_value=100))
def test_delta_outputs_differ_by_at_least_the_threshold(
    values: list[float], threshold: float
) -> None:
    passed = [v for v in feed_all(f.Delta(threshold), values) if v is not None]
    assert passed[0] == values[0]
    for a, b in itertools.pairwise(passed):
        assert abs(float(b) - float(a)) >= threshold


def test_throttle() -> None:
    clock = FakeClock()
    flt = f.Throttle(10.0, clock)
    out = []
    for _ in range(5):
        out.append(flt.feed(1.0))
        clock.advance(4.0)
    assert out == [1.0, None, None, 1.0, None]


def test_heartbeat_sends_latest_on_its_timer_only() -> None:
    clock = FakeClock()
    flt = f.Heartbeat(60.0, clock)
    assert flt.feed(1.0) is None
    assert flt.feed(2.0) is None
    assert flt.poll() is None
    assert flt.next_deadline() == 1060.0
    clock.advance(60.0)
    assert flt.poll() == 2.0
    assert flt.poll() is None
    clock.advance(185.0)  # three periods late: one emission, schedule realigned
    assert flt.poll() == 2.0
    assert flt.next_deadline() == 1300.0  # next point of the 60 s grid after now (1245)


def test_heartbeat_before_any_value_emits_nothing() -> None:
    clock = FakeClock()
    flt = f.Heartbeat(1.0, clock)
    clock.advance(1.0)
    assert flt.poll() is None


def test_throttle_average() -> None:
    clock = FakeClock()
    flt = f.ThrottleAverage(10.0, clock)
    assert feed_all(flt, [1.0, 2.0, math.nan, 3.0]) == [None] * 4
    clock.advance(10.0)
    assert flt.poll() == 2.0
    clock.advance(10.0)
    assert flt.poll() is None  # nothing came in that period


def test_timeout_emits_once_after_silence() -> None:
    clock = FakeClock()
    flt = f.Timeout(30.0, None, clock)
    assert flt.feed(5.0) == 5.0
    clock.advance(29.0)
    assert flt.poll() is None
    clock.advance(1.0)
    out = flt.poll()
    assert out is not None
    assert math.isnan(out)
    assert flt.poll() is None
    assert flt.next_deadline() is None
    assert flt.feed(6.0) == 6.0
    assert flt.next_deadline() == clock.now + 30.0


def test_timeout_with_a_value() -> None:
    clock = FakeClock()
    flt = f.Timeout(5.0, 0.0, clock)
    clock.advance(5.0)
    assert flt.poll() == 0.0


def test_debounce_emits_a_value_that_stayed_put() -> None:
    clock = FakeClock()
    flt = f.Debounce(2.0, clock)
    assert flt.feed(True) is None
    clock.advance(1.0)
    assert flt.feed(False) is None  # changed: timer restarts
    clock.advance(1.5)
    assert flt.feed(False) is None  # same value: timer keeps running
    clock.advance(0.5)
    assert flt.poll() is False
    clock.advance(5.0)
    assert flt.feed(False) is None  # already emitted, no repeat


# --------------------------------------------------------------------------------------------
# Chains


def test_chain_stops_when_a_filter_holds_back() -> None:
    chain = f.FilterChain([f.Clamp(0, 10, drop=True), f.Offset(1)])
    assert feed_all(chain, [5, 50]) == [6, None]


def test_chain_carries_timed_emissions_through_the_rest() -> None:
    clock = FakeClock()
    chain = f.build_chain(
        [m.OffsetFilter(1.0), m.HeartbeatFilter(10.0), m.MultiplyFilter(2.0)], clock
    )
    assert chain.feed(4.0) is None
    assert chain.next_deadline() == 1010.0
    clock.advance(10.0)
    assert chain.poll() == [10.0]


def test_build_filter_covers_every_spec() -> None:
    clock = FakeClock()
    window = m.WindowOptions(3, 1, 1)
    specs: list[m.FilterSpec] = [
        m.OffsetFilter(1), m.MultiplyFilter(2), m.CalibrateLinearFilter(((0, 0), (1, 1))),
        m.CalibratePolynomialFilter(1, ((0, 0), (1, 1))), m.ClampFilter(0, 1), m.RoundFilter(1),
        m.RoundToMultipleOfFilter(0.5), m.MedianFilter(window), m.QuantileFilter(window, 0.5),
        m.MinFilter(window), m.MaxFilter(window), m.SlidingWindowMovingAverageFilter(window),
        m.ExponentialMovingAverageFilter(0.1, 1, 1), m.ThrottleFilter(1),
        m.ThrottleAverageFilter(1), m.HeartbeatFilter(1), m.DeltaFilter(1), m.TimeoutFilter(1),
        m.DebounceFilter(1), m.FilterOutFilter((1,)), m.InvertFilter(),
    ]  # fmt: skip
    built = [type(f.build_filter(s, clock)).__name__ for s in specs]
    assert built == [
        "Offset", "Multiply", "CalibrateLinear", "CalibratePolynomial", "Clamp", "Round",
        "RoundToMultipleOf", "Median", "Quantile", "Min", "Max", "SlidingWindowMovingAverage",
        "ExponentialMovingAverage", "Throttle", "ThrottleAverage", "Heartbeat", "Delta",
        "Timeout", "Debounce", "FilterOut", "Invert",
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Any valid spec builds and never raises on any input


def _points(min_size: int) -> st.SearchStrategy[tuple[tuple[float, float], ...]]:
    """Datapoints the schema accepts: within ±1e9, measured values at least 1e-3 apart."""
    coordinate = st.integers(-(10**12), 10**12).map(lambda n: n / 1000)
    return st.lists(
        st.tuples(coordinate, coordinate), min_size=min_size, max_size=6, unique_by=lambda p: p[0]
    ).map(tuple)


windows = st.builds(
    lambda size, every, first: m.WindowOptions(size, every, min(first, every)),
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(1, 20),
)
durations = st.floats(min_value=0.001, max_value=1e5)
specs = st.one_of(
    st.builds(m.OffsetFilter, finite),
    st.builds(m.MultiplyFilter, finite),
    st.builds(m.CalibrateLinearFilter, _points(2), st.sampled_from(["least_squares", "exact"])),
    st.builds(m.ClampFilter, st.none() | finite, st.none() | finite, st.booleans()),
    st.builds(m.RoundFilter, st.integers(0, 12)),
    st.builds(m.RoundToMultipleOfFilter, st.floats(min_value=1e-6, max_value=1e6)),
    st.builds(m.MedianFilter, windows),
    st.builds(m.QuantileFilter, windows, st.floats(0, 1)),
    st.builds(m.MinFilter, windows),
    st.builds(m.MaxFilter, windows),
    st.builds(m.SlidingWindowMovingAverageFilter, windows),
    st.builds(m.ExponentialMovingAverageFilter, st.floats(0.001, 1), st.integers(1, 5), st.just(1)),
    st.builds(m.ThrottleFilter, durations),
    st.builds(m.ThrottleAverageFilter, durations),
    st.builds(m.HeartbeatFilter, durations),
    st.builds(m.DeltaFilter, st.floats(min_value=1e-6, max_value=1e6), st.booleans()),
    st.builds(m.TimeoutFilter, durations, st.none() | finite),
    st.builds(m.DebounceFilter, durations),
    st.builds(m.FilterOutFilter, st.lists(finite | st.just(math.nan), min_size=1).map(tuple)),
)
inputs = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6)


@given(
    st.lists(specs, min_size=1, max_size=5),
    st.lists(st.tuples(inputs, st.floats(min_value=0, max_value=1e4)), max_size=30),
)
@settings(max_examples=300)
def test_any_chain_takes_any_input_without_raising(
    chain_specs: list[m.FilterSpec], feed: list[tuple[float, float]]
) -> None:
    clock = FakeClock()
    chain = f.build_chain(chain_specs, clock)
    for value, wait in feed:
        out = chain.feed(value)
        assert out is None or isinstance(out, float | int | bool)
        clock.advance(wait)
        for emitted in chain.poll():
            assert isinstance(emitted, float | int | bool)
        deadline = chain.next_deadline()
        assert deadline is None or isinstance(deadline, float)


@given(_points(3), st.integers(1, 2))
def test_polynomial_specs_the_schema_accepts_always_build(
    points: tuple[tuple[float, float], ...], degree: int
) -> None:
    from iotcs_hw.runtime.config import ModelFileError, parse_text

    lines = "".join(f"\n          - [{x!r}, {y!r}]" for x, y in points)
    text = (
        "store: {path: /x}\ndevices:\n  - id: d\n    model: urn:x\n    sensors:\n"
        "      - name: s\n        driver: bme280\n        readings:\n          temperature:\n"
        "            attribute: t\n            filters:\n              - calibrate_polynomial:\n"
        f"                  degree: {degree}\n                  datapoints:"
        + lines.replace("\n          -", "\n                    -")
    )
    try:
        model_file = parse_text(text, "p.yaml")
    except ModelFileError as exc:
        assert "do not determine a polynomial" in str(exc)
        return
    (spec,) = model_file.sensors[0].readings[0].filters
    flt = f.build_filter(spec)
    assert isinstance(flt.feed(1.0), float)


def test_round_keeps_values_too_large_for_its_decimals() -> None:
    assert f.Round(9).feed(1.797693134862316e299) == 1.797693134862316e299
    assert f.RoundToMultipleOf(1e-300).feed(1e300) == 1e300


def test_calibration_points_too_close_are_refused_by_the_fit() -> None:
    with pytest.raises(ValueError, match="too close together"):
        f.fit_line([(0.0, 1.0), (5e-324, 2.0)])
