"""Filters and report strategies: what happens to a reading between the driver and the cloud.

A :class:`Filter` takes one value and returns a value or ``None`` (nothing to pass on).  Filters
that act on time (heartbeat, timeout, debounce, throttle_average) also emit on their own:
:meth:`Filter.poll` returns what is due now and :meth:`Filter.next_deadline` says when to ask
again, so the scheduler can wake them without a thread each.  Time comes from an injected
:class:`Clock`, so tests drive it by hand.

Semantics follow ESPHome's sensor filters, so a filter copied from an ESPHome configuration
behaves the same (window counters, ``send_first_at``, ``delta`` relative to the last value
passed, ``heartbeat`` sending only on its timer).  NaN is "no valid measurement": arithmetic
passes it on, windows skip it, :class:`FilterOut` can drop it, and a :class:`Reporter` never
sends it.

>>> chain = build_chain([m.OffsetFilter(-0.5), m.RoundFilter(1)])
>>> chain.feed(21.37)
20.9
"""

from __future__ import annotations

import abc
import math
import statistics
import time
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from iotcs_hw.runtime.config import model as m

Value = float | bool


class Clock(Protocol):
    """Monotonic seconds; :class:`MonotonicClock` in production, a fake in tests."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...


class MonotonicClock:
    """The real clock: :func:`time.monotonic`."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


class Filter(abc.ABC):
    """One step of a filter chain."""

    @abc.abstractmethod
    def feed(self, value: Value) -> Value | None:
        """Take ``value``; return what to pass on now, or None for nothing."""

    def poll(self) -> Value | None:
        """A value the filter emits on its own because time passed, or None."""
        return None

    def next_deadline(self) -> float | None:
        """Monotonic time at which :meth:`poll` may next emit, or None if it never will."""
        return None


def is_nan(value: Value) -> bool:
    """True for a float NaN (no valid measurement)."""
    return isinstance(value, float) and math.isnan(value)


# --------------------------------------------------------------------------------------------
# Stateless arithmetic


class Offset(Filter):
    """Add a constant."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def feed(self, value: Value) -> Value | None:
        return float(value) + self.offset


class Multiply(Filter):
    """Multiply by a constant."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def feed(self, value: Value) -> Value | None:
        return float(value) * self.factor


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares ``(slope, intercept)`` through ``points`` (at least two distinct x)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) * (x - mean_x) for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    if sxx == 0 or not math.isfinite(sxx):
        raise ValueError("the datapoints' measured values are too close together to fit a line")
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear through ``points`` (sorted here), extrapolating the end segments.

    NaN (a missing reading) passes through as NaN; it must not reach the segment search.
    """
    if math.isnan(x):
        return x
    pts = sorted(points)
    if x <= pts[0][0]:
        (x0, y0), (x1, y1) = pts[0], pts[1]
    elif x >= pts[-1][0]:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
    else:
        i = next(i for i in range(1, len(pts)) if x <= pts[i][0])
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _power(x: float, k: int) -> float:
    result = 1.0
    for _ in range(k):
        result *= x
    return result


def fit_polynomial(points: Sequence[tuple[float, float]], degree: int) -> list[float]:
    """Least-squares coefficients ``c[0] + c[1]*x + ...`` (normal equations, pivoting)."""
    size = degree + 1
    # Normal equations A c = b with A[i][j] = sum x^(i+j), b[i] = sum y x^i.
    # Products, not **: a float power overflows with an exception, a product with inf.
    powers = [math.fsum(_power(x, k) for x, _ in points) for k in range(2 * degree + 1)]
    a = [
        [powers[i + j] for j in range(size)] + [math.fsum(y * _power(x, i) for x, y in points)]
        for i in range(size)
    ]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if a[col][col] == 0:
            raise ValueError("datapoints do not determine the polynomial")
        for row in range(size):
            if row != col:
                factor = a[row][col] / a[col][col]
                a[row] = [rv - factor * cv for rv, cv in zip(a[row], a[col], strict=True)]
    return [a[i][size] / a[i][i] for i in range(size)]


class CalibrateLinear(Filter):
    """Map measured to true values through datapoints (least squares or exact segments)."""

    def __init__(self, points: Sequence[tuple[float, float]], method: str = "least_squares"):
        self.points = tuple(points)
        self.exact = method == "exact"
        self.slope, self.intercept = fit_line(self.points)

    def feed(self, value: Value) -> Value | None:
        x = float(value)
        if self.exact:
            return interpolate(self.points, x)
        return self.slope * x + self.intercept


class CalibratePolynomial(Filter):
    """Least-squares polynomial through datapoints."""

    def __init__(self, points: Sequence[tuple[float, float]], degree: int) -> None:
        self.coefficients = fit_polynomial(points, degree)

    def feed(self, value: Value) -> Value | None:
        x, result = float(value), 0.0
        for c in reversed(self.coefficients):
            result = result * x + c
        return result


class Clamp(Filter):
    """Limit to ``[low, high]``; with ``drop`` values outside are dropped instead. NaN passes."""

    def __init__(self, low: float | None, high: float | None, *, drop: bool = False) -> None:
        self.low, self.high, self.drop = low, high, drop

    def feed(self, value: Value) -> Value | None:
        x = float(value)
        if math.isnan(x):
            return x
        if self.low is not None and x < self.low:
            return None if self.drop else self.low
        if self.high is not None and x > self.high:
            return None if self.drop else self.high
        return x


def _round_half_away(x: float) -> float:
    if not math.isfinite(x):
        return x
    return math.copysign(math.floor(abs(x) + 0.5), x)


class Round(Filter):
    """Round to ``decimals`` places, halves away from zero (as ESPHome's ``roundf``)."""

    def __init__(self, decimals: int) -> None:
        self.factor = 10.0**decimals

    def feed(self, value: Value) -> Value | None:
        x = float(value)
        scaled = x * self.factor
        if not math.isfinite(scaled):
            return x  # too large to carry that many decimals: already "rounded"
        return _round_half_away(scaled) / self.factor


class RoundToMultipleOf(Filter):
    """Round to the nearest multiple of ``multiple`` (halves away from zero)."""

    def __init__(self, multiple: float) -> None:
        self.multiple = multiple

    def feed(self, value: Value) -> Value | None:
        x = float(value)
        steps = x / self.multiple
        if not math.isfinite(steps):
            return x
        return _round_half_away(steps) * self.multiple


class FilterOut(Filter):
    """Drop the listed values (NaN in the list drops NaN)."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = [float(v) for v in values if not math.isnan(v)]
        self.drop_nan = any(math.isnan(v) for v in values)

    def feed(self, value: Value) -> Value | None:
        x = float(value)
        if math.isnan(x):
            return None if self.drop_nan else x
        return None if x in self.values else value


class Invert(Filter):
    """Logical not of a boolean reading."""

    def feed(self, value: Value) -> Value | None:
        return not bool(value)


# --------------------------------------------------------------------------------------------
# Windows


class _Windowed(Filter):
    """ESPHome's sliding window: emit at the ``send_first_at``-th value, then every
    ``send_every`` values, computed over the last ``window_size`` (NaN skipped)."""

    def __init__(self, window: m.WindowOptions) -> None:
        self.window: deque[float] = deque(maxlen=window.window_size)
        self.send_every = window.send_every
        self.counter = window.send_every - window.send_first_at

    def feed(self, value: Value) -> Value | None:
        self.window.append(float(value))
        self.counter += 1
        if self.counter < self.send_every:
            return None
        self.counter = 0
        valid = [v for v in self.window if not math.isnan(v)]
        return self.compute(valid) if valid else math.nan

    @abc.abstractmethod
    def compute(self, values: list[float]) -> float:
        """The window's value from its (non-empty, NaN-free) values."""


class Median(_Windowed):
    """Median of the window (mean of the middle two for an even count)."""

    def compute(self, values: list[float]) -> float:
        return float(statistics.median(values))


class Quantile(_Windowed):
    """The ``quantile`` of the window by nearest rank (ESPHome's definition)."""

    def __init__(self, window: m.WindowOptions, quantile: float) -> None:
        super().__init__(window)
        self.quantile = quantile

    def compute(self, values: list[float]) -> float:
        ordered = sorted(values)
        rank = max(math.ceil(len(ordered) * self.quantile) - 1, 0)
        return ordered[min(rank, len(ordered) - 1)]


class Min(_Windowed):
    """Smallest value of the window."""

    def compute(self, values: list[float]) -> float:
        return min(values)


class Max(_Windowed):
    """Largest value of the window."""

    def compute(self, values: list[float]) -> float:
        return max(values)


class SlidingWindowMovingAverage(_Windowed):
    """Mean of the window."""

    def compute(self, values: list[float]) -> float:
        return math.fsum(values) / len(values)


class ExponentialMovingAverage(Filter):
    """``avg = alpha*x + (1-alpha)*avg`` (starting at the first value), sent on the window
    counter rule; NaN values are skipped."""

    def __init__(self, alpha: float, send_every: int, send_first_at: int) -> None:
        self.alpha = alpha
        self.average: float | None = None
        self.send_every = send_every
        self.counter = send_every - send_first_at

    def feed(self, value: Value) -> Value | None:
        x = float(value)
        if not math.isnan(x):
            self.average = (
                x if self.average is None else self.alpha * x + (1 - self.alpha) * self.average
            )
        self.counter += 1
        if self.counter < self.send_every:
            return None
        self.counter = 0
        return math.nan if self.average is None else self.average


# --------------------------------------------------------------------------------------------
# Time-based


class Throttle(Filter):
    """Pass a value only when the last passed one is at least ``interval_s`` old."""

    def __init__(self, interval_s: float, clock: Clock) -> None:
        self.interval_s, self.clock = interval_s, clock
        self.last: float | None = None

    def feed(self, value: Value) -> Value | None:
        now = self.clock.monotonic()
        if self.last is not None and now - self.last < self.interval_s:
            return None
        self.last = now
        return value


class ThrottleAverage(Filter):
    """Collect values; every ``interval_s`` emit their mean (nothing if none came)."""

    def __init__(self, interval_s: float, clock: Clock) -> None:
        self.interval_s, self.clock = interval_s, clock
        self.values: list[float] = []
        self.due = clock.monotonic() + interval_s

    def feed(self, value: Value) -> Value | None:
        if not is_nan(value):
            self.values.append(float(value))
        return None

    def poll(self) -> Value | None:
        now = self.clock.monotonic()
        if now < self.due:
            return None
        # Skip whole missed periods rather than piling up emissions.
        self.due += self.interval_s * max(1, math.floor((now - self.due) / self.interval_s) + 1)
        values, self.values = self.values, []
        return math.fsum(values) / len(values) if values else None

    def next_deadline(self) -> float | None:
        return self.due


class Heartbeat(Filter):
    """Hold values; every ``period_s`` emit the latest one (ESPHome: only the timer sends)."""

    def __init__(self, period_s: float, clock: Clock) -> None:
        self.period_s, self.clock = period_s, clock
        self.latest: Value | None = None
        self.due = clock.monotonic() + period_s

    def feed(self, value: Value) -> Value | None:
        self.latest = value
        return None

    def poll(self) -> Value | None:
        now = self.clock.monotonic()
        if now < self.due:
            return None
        self.due += self.period_s * max(1, math.floor((now - self.due) / self.period_s) + 1)
        return self.latest

    def next_deadline(self) -> float | None:
        return self.due


class Delta(Filter):
    """Pass a value only when it differs from the last passed one by at least ``threshold``
    (relative to that value when ``percent``).  The first value always passes."""

    def __init__(self, threshold: float, *, percent: bool = False) -> None:
        self.threshold, self.percent = threshold, percent
        self.last: float | None = None

    def feed(self, value: Value) -> Value | None:
        x = float(value)
        if math.isnan(x):
            if self.last is None or math.isnan(self.last):
                return None
            self.last = x
            return value
        if self.last is not None and not math.isnan(self.last):
            limit = self.threshold * abs(self.last) if self.percent else self.threshold
            if abs(x - self.last) < limit:
                return None
        self.last = x
        return value


class Timeout(Filter):
    """Pass values; after ``timeout_s`` without one, emit ``value`` once (NaN by default)."""

    def __init__(self, timeout_s: float, value: float | None, clock: Clock) -> None:
        self.timeout_s, self.clock = timeout_s, clock
        self.value = math.nan if value is None else value
        self.due: float | None = clock.monotonic() + timeout_s

    def feed(self, value: Value) -> Value | None:
        self.due = self.clock.monotonic() + self.timeout_s
        return value

    def poll(self) -> Value | None:
        if self.due is None or self.clock.monotonic() < self.due:
            return None
        self.due = None
        return self.value

    def next_deadline(self) -> float | None:
        return self.due


class Debounce(Filter):
    """Emit a value once it stayed the same for ``delay_s`` (once per change).

    ESPHome's debounce waits for silence; sensors here are sampled periodically, so "silence"
    becomes "no different value": repeated samples of the same value do not restart the timer.
    """

    def __init__(self, delay_s: float, clock: Clock) -> None:
        self.delay_s, self.clock = delay_s, clock
        self.pending: Value | None = None
        self.due: float | None = None
        self.emitted: Value | None = None

    def feed(self, value: Value) -> Value | None:
        if self.pending is None or value != self.pending or is_nan(value):
            self.pending = value
            self.due = self.clock.monotonic() + self.delay_s
        return self.poll()

    def poll(self) -> Value | None:
        if self.due is None or self.clock.monotonic() < self.due:
            return None
        self.due = None
        if self.pending == self.emitted:
            return None
        self.emitted = self.pending
        return self.pending

    def next_deadline(self) -> float | None:
        return self.due


# --------------------------------------------------------------------------------------------
# Building and chaining


def build_filter(spec: m.FilterSpec, clock: Clock | None = None) -> Filter:
    """The filter a parsed spec describes; time-based ones read ``clock``."""
    clk: Clock = clock or MonotonicClock()
    match spec:
        case m.OffsetFilter(value=v):
            return Offset(v)
        case m.MultiplyFilter(value=v):
            return Multiply(v)
        case m.CalibrateLinearFilter(datapoints=pts, method=method):
            return CalibrateLinear(pts, method)
        case m.CalibratePolynomialFilter(degree=degree, datapoints=pts):
            return CalibratePolynomial(pts, degree)
        case m.ClampFilter(min_value=lo, max_value=hi, ignore_out_of_range=drop):
            return Clamp(lo, hi, drop=drop)
        case m.RoundFilter(decimals=d):
            return Round(d)
        case m.RoundToMultipleOfFilter(multiple=step):
            return RoundToMultipleOf(step)
        case m.MedianFilter(window=w):
            return Median(w)
        case m.QuantileFilter(window=w, quantile=q):
            return Quantile(w, q)
        case m.MinFilter(window=w):
            return Min(w)
        case m.MaxFilter(window=w):
            return Max(w)
        case m.SlidingWindowMovingAverageFilter(window=w):
            return SlidingWindowMovingAverage(w)
        case m.ExponentialMovingAverageFilter(alpha=a, send_every=every, send_first_at=first):
            return ExponentialMovingAverage(a, every, first)
        case m.ThrottleFilter(interval_s=s):
            return Throttle(s, clk)
        case m.ThrottleAverageFilter(interval_s=s):
            return ThrottleAverage(s, clk)
        case m.HeartbeatFilter(period_s=s):
            return Heartbeat(s, clk)
        case m.DeltaFilter(threshold=t, percent=p):
            return Delta(t, percent=p)
        case m.TimeoutFilter(timeout_s=s, value=v):
            return Timeout(s, v, clk)
        case m.DebounceFilter(delay_s=s):
            return Debounce(s, clk)
        case m.FilterOutFilter(values=vs):
            return FilterOut(vs)
        case m.InvertFilter():
            return Invert()
    raise TypeError(f"not a filter spec: {spec!r}")  # pragma: no cover


class FilterChain:
    """Filters in order: a value goes through each until one holds it back.

    Not thread-safe: one chain belongs to one reading, fed from the sampling thread.
    """

    def __init__(self, filters: Sequence[Filter]) -> None:
        self.filters = list(filters)

    def _run(self, value: Value | None, start: int) -> Value | None:
        for f in self.filters[start:]:
            if value is None:
                return None
            value = f.feed(value)
        return value

    def feed(self, value: Value) -> Value | None:
        """Push one sample through; return what leaves the chain, or None."""
        return self._run(value, 0)

    def poll(self) -> list[Value]:
        """Values time-based filters emit now, each carried through the rest of the chain."""
        out: list[Value] = []
        for i, f in enumerate(self.filters):
            emitted = f.poll()
            if emitted is not None:
                result = self._run(emitted, i + 1)
                if result is not None:
                    out.append(result)
        return out

    def next_deadline(self) -> float | None:
        """The earliest time a filter may emit on its own, or None."""
        deadlines = [d for f in self.filters if (d := f.next_deadline()) is not None]
        return min(deadlines) if deadlines else None


def build_chain(specs: Sequence[m.FilterSpec], clock: Clock | None = None) -> FilterChain:
    """A :class:`FilterChain` from the specs of one reading."""
    return FilterChain([build_filter(s, clock) for s in specs])
