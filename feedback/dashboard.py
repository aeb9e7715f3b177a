"""Model versions measured for the review dashboard: per day and over a chosen date range, one version or
all side by side, each figure drawn as a server-rendered SVG chart (no script, no CDN: the strict CSP
allows neither inline code nor other origins) beside a table of the same numbers.

What each figure counts (a day is the day the answer was written, or, for build figures, the day of
the build; restores are no model call and never count):

- accept rate: of the version's finished answers (repairs aside: nobody is shown a repair to judge),
  the share a user accepted or picked over the other candidate (a staff member's blind pick is not a
  user's acceptance and does not count here; it counts on the leaderboard);
- build-pass rate: of the builds of the app versions its answers wrote whose bundle step was decided,
  the share that bundled;
- smoke-pass rate: of those builds whose smoke test gave a verdict (passed or failed; "not scored" and
  "skipped" are no verdict), the share that passed;
- repair rate: repair generations per answer to a prompt (first answers, regenerations and
  side-by-side candidates);
- automatic negatives by kind: answers with an OutputDefect of each kind, answers whose app failed to
  bundle (failed_build) and answers whose preview failed its smoke test — blank or broken
  (broken_preview); an answer with two kinds counts under both;
- time to first token and total time: median and 90th percentile (linear interpolation, numpy's
  default) over finished answers, repairs included (they are model calls too);
- tokens per working app: the mean completion tokens of answers whose app has a build that bundled and
  passed its smoke test;
- traffic share: the version's share of all model answers written that day (repairs included).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from feedback.models import Feedback, PreferencePair
from generation.models import Generation, ModelVersion, OutputDefect
from sandbox.models import Build

DEFAULT_DAYS = 14
MODEL_FAULT_STEP = "bundle"  # the build step that fails because of what the model wrote
FAILED_BUILD, BROKEN_PREVIEW = "failed_build", "broken_preview"
NEGATIVE_KINDS = (*OutputDefect.Kind.values, FAILED_BUILD, BROKEN_PREVIEW)
ANSWER_KINDS = (Generation.Kind.FIRST, Generation.Kind.REGENERATE, Generation.Kind.COMPARE)
MODEL_CALLS = (*ANSWER_KINDS, Generation.Kind.REPAIR)


# --- The date range --------------------------------------------------------------------------------

@dataclass(frozen=True)
class DateRange:
    since: date
    until: date  # inclusive

    @classmethod
    def from_query(cls, query, *, today: date | None = None) -> DateRange:
        """?since=&until= (ISO dates, both days included); anything missing or mistyped gives the last
        DEFAULT_DAYS days, today included."""
        today = today or timezone.localdate()
        until = _date(query.get("until")) or today
        since = _date(query.get("since")) or until - timedelta(days=DEFAULT_DAYS - 1)
        return cls(min(since, until), max(since, until))

    def apply(self, queryset, field: str):
        return queryset.filter(**{f"{field}__date__gte": self.since, f"{field}__date__lte": self.until})

    def query(self) -> str:
        return f"since={self.since.isoformat()}&until={self.until.isoformat()}"


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None  # a mistyped date in the address bar shows the default range rather than failing


# --- Figures, grouped by model version and day -----------------------------------------------------

@dataclass(frozen=True)
class Ratio:
    hits: int
    total: int

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.hits + other.hits, self.total + other.total)


ByVersionDay = dict[int, dict[date, object]]  # model version id -> day -> figure


def _grouped(queryset, version: str, day_field: str, **aggregates) -> list[dict]:
    return list(queryset.annotate(day=TruncDate(day_field)).values(version, "day").annotate(**aggregates)
                .order_by(version, "day"))


def _ratios(rows: list[dict], version: str) -> ByVersionDay:
    found: ByVersionDay = defaultdict(dict)
    for r in rows:
        found[r[version]][r["day"]] = Ratio(r["hits"] or 0, r["total"])
    return found


def _answers(rng: DateRange):
    return rng.apply(Generation.objects.filter(kind__in=MODEL_CALLS), "created_at")


def accept_rates(rng: DateRange) -> ByVersionDay:
    users_pick = PreferencePair.objects.filter(chosen_generation=OuterRef("pk"), source=PreferencePair.Source.PICK).exclude(
        feedback__from_staff=True)
    accepted = Feedback.objects.filter(generation=OuterRef("pk"), verdict=Feedback.Verdict.ACCEPT, from_staff=False)
    answers = (_answers(rng).filter(kind__in=ANSWER_KINDS, status=Generation.Status.DONE)
               .annotate(accepted=Exists(accepted) | Exists(users_pick)))
    return _ratios(_grouped(answers, "model_version", "created_at", total=Count("id"),
                            hits=Count("id", filter=Q(accepted=True))), "model_version")


def _builds(rng: DateRange):
    # A build belongs to the app version an answer wrote; a restore's version is no model's work.
    return rng.apply(Build.objects.filter(app_version__generations__kind__in=MODEL_CALLS), "created_at")


def build_pass_rates(rng: DateRange) -> ByVersionDay:
    version = "app_version__generations__model_version"
    return _ratios(_grouped(_builds(rng).filter(build_passed__isnull=False), version, "created_at",
                            total=Count("id", distinct=True), hits=Count("id", distinct=True, filter=Q(build_passed=True))),
                   version)


def smoke_pass_rates(rng: DateRange) -> ByVersionDay:
    version = "app_version__generations__model_version"
    judged = _builds(rng).filter(smoke_status__in=(Build.Smoke.PASSED, Build.Smoke.FAILED))
    return _ratios(_grouped(judged, version, "created_at", total=Count("id", distinct=True),
                            hits=Count("id", distinct=True, filter=Q(smoke_status=Build.Smoke.PASSED))), version)


def repair_rates(rng: DateRange) -> ByVersionDay:
    return _ratios(_grouped(_answers(rng), "model_version", "created_at",
                            total=Count("id", filter=Q(kind__in=ANSWER_KINDS)),
                            hits=Count("id", filter=Q(kind=Generation.Kind.REPAIR))), "model_version")


def traffic(rng: DateRange) -> ByVersionDay:
    """The version's answers that day (hits) of all versions' answers that day (total)."""
    rows = _grouped(_answers(rng), "model_version", "created_at", hits=Count("id"))
    per_day = Counter()
    for r in rows:
        per_day[r["day"]] += r["hits"]
    found: ByVersionDay = defaultdict(dict)
    for r in rows:
        found[r["model_version"]][r["day"]] = Ratio(r["hits"], per_day[r["day"]])
    return found


def negatives(rng: DateRange) -> ByVersionDay:
    """version -> day -> Counter(kind -> answers)."""
    found: ByVersionDay = defaultdict(lambda: defaultdict(Counter))
    defects = (rng.apply(OutputDefect.objects.filter(generation__kind__in=MODEL_CALLS), "generation__created_at")
               .annotate(day=TruncDate("generation__created_at"))
               .values("generation__model_version", "day", "kind").annotate(n=Count("generation", distinct=True)))
    for r in defects:
        found[r["generation__model_version"]][r["day"]][r["kind"]] += r["n"]
    for kind, builds in (
        (FAILED_BUILD, Build.objects.filter(failed_step=MODEL_FAULT_STEP)),
        (BROKEN_PREVIEW, Build.objects.filter(status=Build.Status.READY, smoke_status=Build.Smoke.FAILED)),
    ):
        faulty = _answers(rng).filter(Exists(builds.filter(app_version=OuterRef("app_version"))))
        for r in _grouped(faulty, "model_version", "created_at", n=Count("id")):
            found[r["model_version"]][r["day"]][kind] += r["n"]
    return found


def latencies(rng: DateRange) -> ByVersionDay:
    """version -> day -> [(time to first token ms, total ms)] of finished answers that have both."""
    found: ByVersionDay = defaultdict(lambda: defaultdict(list))
    rows = (_answers(rng).filter(status=Generation.Status.DONE, time_to_first_token_ms__isnull=False,
                                 duration_ms__isnull=False)
            .annotate(day=TruncDate("created_at"))
            .values_list("model_version", "day", "time_to_first_token_ms", "duration_ms").order_by("id"))
    for version, day, first_token, total in rows.iterator():
        found[version][day].append((first_token, total))
    return found


def tokens_per_working_app(rng: DateRange) -> ByVersionDay:
    """version -> day -> Ratio(completion tokens summed, working apps)."""
    working = Build.objects.filter(app_version=OuterRef("app_version"), build_passed=True,
                                   smoke_status=Build.Smoke.PASSED)
    answers = _answers(rng).filter(completion_tokens__isnull=False).filter(Exists(working))
    return _ratios(_grouped(answers, "model_version", "created_at", total=Count("id"), hits=Sum("completion_tokens")),
                   "model_version")


@dataclass(frozen=True)
class Percentiles:
    n: int
    first_token_p50: float
    first_token_p90: float
    total_p50: float
    total_p90: float


def percentiles(samples: list[tuple[int, int]]) -> Percentiles | None:
    if not samples:
        return None
    first_token, total = np.array(samples, dtype=float).T
    (a, b), (c, d) = np.percentile(first_token, [50, 90]), np.percentile(total, [50, 90])
    return Percentiles(len(samples), float(a), float(b), float(c), float(d))


# --- Panels: a chart and its table -----------------------------------------------------------------

@dataclass
class Panel:
    id: str
    title: str
    help: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    footer: list[str] | None = None  # the whole range, on a per-day panel
    chart: dict | None = None


def _rate(r: Ratio) -> str:
    return f"{r.rate:.3f}"


def _ms(value: float) -> str:
    return f"{value:.1f}"


RATES = (
    # id, title, help, hits column, total column, figures
    ("accept-rate", "Accept rate", "Finished answers (repairs aside) a user accepted or picked.", "accepted", "answers",
     accept_rates),
    ("build-pass-rate", "Build-pass rate", "Builds of the apps it wrote whose bundle step was decided, and how many bundled.",
     "passed", "builds", build_pass_rates),
    ("smoke-pass-rate", "Smoke-pass rate", "Builds whose smoke test gave a verdict, and how many passed.", "passed",
     "judged", smoke_pass_rates),
    ("repair-rate", "Repair rate", "Repair generations per answer to a prompt (first, regenerated or side by side).",
     "repairs", "answers", repair_rates),
    ("traffic-share", "Traffic share", "Its answers (repairs included) of all versions' answers.", "answers", "all answers",
     traffic),
)


def _rate_panel(spec, figures: dict, labels: list, label_column: str, footer: bool) -> Panel:
    panel_id, title, help_text, hits, total, _ = spec
    rows = [figures[key] for key in labels]
    panel = Panel(panel_id, title, help_text, [label_column, hits, total, "rate"],
                  [[_label(k), str(r.hits), str(r.total), _rate(r)] for k, r in zip(labels, rows)])
    if footer and rows:
        whole = sum(rows, Ratio(0, 0))
        panel.footer = ["range", str(whole.hits), str(whole.total), _rate(whole)]
    panel.chart = bar_chart([_label(k, short=True) for k in labels], [(title, [r.rate for r in rows])], percent=True,
                            titles=[f"{_label(k)}: {r.hits} of {r.total}" for k, r in zip(labels, rows)])
    return panel


def _negatives_panel(figures: dict, labels: list, label_column: str, footer: bool) -> Panel:
    counters = [figures[k] for k in labels]
    kinds = [k for k in NEGATIVE_KINDS if any(c[k] for c in counters)] or [FAILED_BUILD]
    panel = Panel("negatives", "Automatic negatives by kind",
                  "Answers with a defect of each kind, whose app failed to bundle, or whose preview was blank or broken.",
                  [label_column, *kinds, "all"],
                  [[_label(k), *(str(c[kind]) for kind in kinds), str(sum(c[kind] for kind in kinds))]
                   for k, c in zip(labels, counters)])
    if footer and counters:
        whole = sum(counters, Counter())
        panel.footer = ["range", *(str(whole[kind]) for kind in kinds), str(sum(whole[kind] for kind in kinds))]
    panel.chart = bar_chart([_label(k, short=True) for k in labels],
                            [(kind, [c[kind] for c in counters]) for kind in kinds], stacked=True)
    return panel


def _latency_panels(figures: dict, labels: list, label_column: str, footer: bool) -> list[Panel]:
    stats = [percentiles(figures[k]) for k in labels]
    keep = [(k, s) for k, s in zip(labels, stats) if s]
    panels = []
    for panel_id, title, p50, p90 in (
        ("first-token", "Time to first token (ms)", "first_token_p50", "first_token_p90"),
        ("total-time", "Total time (ms)", "total_p50", "total_p90"),
    ):
        panel = Panel(panel_id, title, "Median and 90th percentile over finished answers (repairs included).",
                      [label_column, "answers", "median", "p90"],
                      [[_label(k), str(s.n), _ms(getattr(s, p50)), _ms(getattr(s, p90))] for k, s in keep])
        if footer and keep:
            whole = percentiles([x for k in labels for x in figures[k]])
            panel.footer = ["range", str(whole.n), _ms(getattr(whole, p50)), _ms(getattr(whole, p90))]
        panel.chart = bar_chart([_label(k, short=True) for k, _ in keep],
                                [("median", [getattr(s, p50) for _, s in keep]), ("p90", [getattr(s, p90) for _, s in keep])])
        panels.append(panel)
    return panels


def _tokens_panel(figures: dict, labels: list, label_column: str, footer: bool) -> Panel:
    rows = [figures[k] for k in labels]
    panel = Panel("tokens-per-working-app", "Tokens per working app",
                  "Mean completion tokens of answers whose app bundled and passed its smoke test.",
                  [label_column, "tokens", "working apps", "per app"],
                  [[_label(k), str(r.hits), str(r.total), f"{r.rate:.0f}"] for k, r in zip(labels, rows)])
    if footer and rows:
        whole = sum(rows, Ratio(0, 0))
        panel.footer = ["range", str(whole.hits), str(whole.total), f"{whole.rate:.0f}"]
    panel.chart = bar_chart([_label(k, short=True) for k in labels], [("tokens per working app", [r.rate for r in rows])],
                            titles=[f"{_label(k)}: {r.hits} tokens, {r.total} apps" for k, r in zip(labels, rows)])
    return panel


def _label(key, short: bool = False) -> str:
    if isinstance(key, date):
        return key.strftime("%m-%d") if short else key.isoformat()
    return str(key)


def _figures(rng: DateRange) -> dict:
    return {
        **{spec[0]: spec[-1](rng) for spec in RATES},
        "negatives": negatives(rng), "latency": latencies(rng), "tokens": tokens_per_working_app(rng),
    }


def _panels(figures: dict, labels_for, label_column: str, footer: bool) -> list[Panel]:
    """Every panel, in the page's order; labels_for(figure name) gives its rows' keys."""
    return [
        *(_rate_panel(spec, figures[spec[0]], labels_for(spec[0]), label_column, footer) for spec in RATES[:4]),
        _negatives_panel(figures["negatives"], labels_for("negatives"), label_column, footer),
        *_latency_panels(figures["latency"], labels_for("latency"), label_column, footer),
        _tokens_panel(figures["tokens"], labels_for("tokens"), label_column, footer),
        _rate_panel(RATES[4], figures["traffic-share"], labels_for("traffic-share"), label_column, footer),
    ]


class _Defaulted(dict):
    """A figure for every key asked: an empty one where the version had nothing."""

    def __init__(self, data: dict, empty):
        super().__init__(data)
        self.empty = empty

    def __missing__(self, key):
        return self.empty()


def _empty(name: str):
    return {"negatives": Counter, "latency": list}.get(name, lambda: Ratio(0, 0))


def model_versions() -> list[ModelVersion]:
    return list(ModelVersion.objects.order_by("name"))


def version_panels(version: ModelVersion, rng: DateRange) -> list[Panel]:
    """One version: a row per day of the range that has anything to show, and the range's totals."""
    mine = {name: _Defaulted(by_version.get(version.id, {}), _empty(name)) for name, by_version in _figures(rng).items()}
    return _panels(mine, lambda name: sorted(mine[name]), "day", True)


def cross_version_panels(versions: list[ModelVersion], rng: DateRange) -> list[Panel]:
    """Every version that answered in the range side by side (a row per version), and traffic per day."""
    figures = _figures(rng)
    versions = [v for v in versions if v.id in figures["traffic-share"]]
    names = {v.id: v.name for v in versions}
    whole = {}
    for name, by_version in figures.items():
        totals = {}
        for version_id, by_day in by_version.items():
            values = list(by_day.values())
            totals[names[version_id]] = (sum(values, Counter()) if name == "negatives"
                                         else [x for v in values for x in v] if name == "latency"
                                         else sum(values, Ratio(0, 0)))
        whole[name] = _Defaulted(totals, _empty(name))
    labels = [v.name for v in versions]
    panels = _panels(whole, lambda name: labels, "model version", False)
    panels.append(_traffic_by_day_panel(figures["traffic-share"], versions))
    return panels


def _traffic_by_day_panel(figures: ByVersionDay, versions: list[ModelVersion]) -> Panel:
    days = sorted({day for by_day in figures.values() for day in by_day})
    shares = {v.id: [figures.get(v.id, {}).get(day, Ratio(0, 0)).rate for day in days] for v in versions}
    panel = Panel("traffic-by-day", "Traffic share by day", "Each version's share of the answers written that day.",
                  ["day", *(v.name for v in versions)],
                  [[day.isoformat(), *(f"{shares[v.id][i]:.3f}" for v in versions)] for i, day in enumerate(days)])
    panel.chart = bar_chart([_label(d, short=True) for d in days], [(v.name, shares[v.id]) for v in versions],
                            percent=True, stacked=True)
    return panel


# --- SVG -------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 34
LEGEND_ROW = 16


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int  # its colour: class s<series>
    title: str  # shown on hover


def _nice_max(value: float) -> float:
    """The axis top: the data's maximum rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def bar_chart(labels: list[str], series: list[tuple[str, list[float]]], *, percent: bool = False,
              stacked: bool = False, titles: list[str] | None = None) -> dict:
    """Coordinates of a bar chart for templates/review/_chart.html: a group of bars per label, one per
    series side by side (or stacked), rates on a 0–100 % axis (a rate above 1 is drawn at the top)."""
    legend_rows = math.ceil(len(series) / 3) if len(series) > 1 else 0
    height = HEIGHT + legend_rows * LEGEND_ROW
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = 1.0 if percent else _nice_max(max(
        [sum(s[1][i] for s in series) for i in range(len(labels))] if stacked
        else [v for _, values in series for v in values], default=0))
    step = plot_w / max(len(labels), 1)
    group_w = step * 0.7
    bar_w = group_w if stacked else group_w / max(len(series), 1)
    bars, values, ticks = [], [], []
    for i, label in enumerate(labels):
        x0, base = LEFT + i * step + step * 0.15, TOP + plot_h
        for n, (name, data) in enumerate(series):
            v = min(data[i], top) if percent else data[i]
            h = plot_h * v / top
            x = x0 if stacked else x0 + n * bar_w
            y = base - h
            if stacked:
                base = y
            shown = f"{data[i]:.0%}" if percent else f"{data[i]:.0f}"
            bars.append(Bar(round(x, 1), round(y, 1), round(bar_w, 1), round(h, 1), n,
                            titles[i] if titles else f"{label} · {name}: {shown}"))
        if len(series) == 1:
            values.append({"x": round(x0 + group_w / 2, 1), "y": round(bars[-1].y - 4, 1), "text": shown})
        ticks.append({"x": round(LEFT + i * step + step / 2, 1), "text": label})
    grid = [{"y": round(TOP + plot_h * (1 - f), 1), "label": f"{f:.0%}" if percent else f"{top * f:g}"}
            for f in (0, 0.5, 1)]
    legend = [{"x": LEFT + (n % 3) * 170, "y": HEIGHT + (n // 3) * LEGEND_ROW, "name": name, "series": n}
              for n, (name, _) in enumerate(series)] if legend_rows else []
    return {"width": WIDTH, "height": height, "bars": bars, "values": values, "ticks": ticks, "grid": grid,
            "legend": legend, "left": LEFT, "right": WIDTH - RIGHT, "label_y": HEIGHT - BOTTOM + 18,
            "empty": not labels, "middle": WIDTH / 2, "middle_y": HEIGHT / 2}
