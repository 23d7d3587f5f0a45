"""Charts drawn on the server as SVG geometry (no chart library, no script): the template places the shapes."""
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    amount: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    top: int
    bottom: int
    left: int
    bars: list
    ticks: list  # (y, amount) gridlines
    labels: list  # (x, day) under every few bars


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^n at or above value, so gridlines fall on round amounts."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def bar_chart(series: list[tuple[date, int]], width: int = 720, height: int = 220) -> BarChart:
    top, bottom, left, right = 10, 24, 70, 8
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = nice_ceiling(max((amount for _, amount in series), default=0))
    slot = plot_w / max(len(series), 1)
    bars = []
    for i, (day, amount) in enumerate(series):
        h = plot_h * amount / peak
        bars.append(Bar(round(left + i * slot + slot * 0.15, 2), round(top + plot_h - h, 2), round(slot * 0.7, 2),
                        round(h, 2), day, amount))
    ticks = [(round(top + plot_h - plot_h * k / 4, 2), peak * k // 4) for k in range(5)]
    # A label every few bars, counted back from the last: the axis always ends on the last day (today).
    every = max(1, len(series) // 6)
    last = len(series) - 1
    labels = [(round(left + i * slot + slot / 2, 2), day) for i, (day, _) in enumerate(series)
              if (last - i) % every == 0]
    return BarChart(width, height, top, bottom, left, bars, ticks, labels)
