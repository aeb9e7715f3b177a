"""A model version's daily rates for the review dashboard, and their charts as server-rendered SVG
(no script, no CDN: the strict CSP allows neither inline code nor other origins).

Accept rate: of the version's finished answers (repairs aside: nobody is shown a repair to judge), the
share a user accepted or picked over the other candidate. Build-pass rate: of the builds of the app
versions its answers wrote, the share that bundled (builds not yet decided are left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from feedback.models import Feedback, PreferencePair
from generation.models import Generation, ModelVersion
from sandbox.models import Build


@dataclass(frozen=True)
class Day:
    day: date
    hits: int
    total: int

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else 0.0


def accept_rate_by_day(version: ModelVersion) -> list[Day]:
    rows = (Generation.objects.filter(model_version=version, status=Generation.Status.DONE)
            .exclude(kind=Generation.Kind.REPAIR)
            .annotate(day=TruncDate("created_at")).values("day")
            .annotate(total=Count("id", distinct=True),
                      hits=Count("id", distinct=True, filter=Q(feedback__verdict=Feedback.Verdict.ACCEPT)
                                 | Q(pairs_chosen__source=PreferencePair.Source.PICK)))
            .order_by("day"))
    return [Day(r["day"], r["hits"], r["total"]) for r in rows]


def build_pass_rate_by_day(version: ModelVersion) -> list[Day]:
    rows = (Build.objects.filter(app_version__generations__model_version=version, build_passed__isnull=False)
            .annotate(day=TruncDate("created_at")).values("day")
            .annotate(total=Count("id", distinct=True), hits=Count("id", distinct=True, filter=Q(build_passed=True)))
            .order_by("day"))
    return [Day(r["day"], r["hits"], r["total"]) for r in rows]


# --- SVG -------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 32


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    cx: float  # the bar's middle, for its labels
    label: str  # the day, under the bar
    value: str  # the rate, above the bar
    title: str  # shown on hover


def bar_chart(days: list[Day]) -> dict:
    """Coordinates of a bar per day (rate 0–100 %) for templates/review/_chart.svg.html."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days), 1)
    bars = []
    for i, d in enumerate(days):
        h = plot_h * d.rate
        bars.append(Bar(
            x=round(LEFT + i * step + step * 0.15, 1), y=round(TOP + plot_h - h, 1), width=round(step * 0.7, 1),
            height=round(h, 1), cx=round(LEFT + i * step + step / 2, 1), label=d.day.strftime("%m-%d"), value=f"{d.rate:.0%}",
            title=f"{d.day}: {d.hits} of {d.total}",
        ))
    grid = [{"y": round(TOP + plot_h * (1 - f), 1), "label": f"{f:.0%}"} for f in (0, 0.5, 1)]
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "grid": grid, "left": LEFT, "right": WIDTH - RIGHT,
            "label_y": HEIGHT - 10}
