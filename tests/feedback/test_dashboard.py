"""The dashboards: per model version per day (/review/versions/<id>/) and every version side by side over a
range (/review/versions/). Each chart is a server-rendered SVG with bars in it, and the numbers in the
table beside it match what this test computes itself, one Python loop over the rows per figure."""

import re
import statistics
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone

from builder.review_demo import DAYS, seed
from feedback.models import Feedback, PreferencePair
from generation.models import Generation, ModelVersion
from sandbox.models import Build
from tests.feedback.comparisons import add

pytestmark = pytest.mark.django_db

PANELS = ("accept-rate", "build-pass-rate", "smoke-pass-rate", "repair-rate", "negatives", "first-token", "total-time",
          "tokens-per-working-app", "traffic-share")
MODEL_CALLS = ("first", "regenerate", "compare", "repair")
ANSWERS = ("first", "regenerate", "compare")


@pytest.fixture
def seeded(settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    seed(turns=8, extra_votes=40)
    add(2)
    # A repair of the failed build: the seed has none, and the repair rate needs one.
    failed = Build.objects.get(failed_step="bundle")
    broken = failed.app_version.generations.get()
    Generation.objects.create(turn=broken.turn, kind="repair", repair_of=failed, model_version=broken.model_version,
                              seed=7, status="done", raw_output="fixed", completion_tokens=50,
                              time_to_first_token_ms=90, duration_ms=900)
    return ModelVersion.objects.get(name="qwen-7b-base")  # wrote the app that failed to bundle


def table(page: str, panel: str) -> tuple[list[list[str]], list[str] | None]:
    """(body rows, footer row) of the table beside a panel's chart."""
    html = page[page.index(f'id="{panel}-table"'):]
    html = html[:html.index("</table>")]
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]
    footer = re.findall(r"<th>(.*?)</th>", html[html.index("<tfoot>"):]) if "<tfoot>" in html else None
    return rows, footer


def svg(page: str, panel: str) -> str:
    section = page[page.index(f'<section class="panel" id="{panel}"'):]
    return section[section.index("<svg"):section.index("</svg>")]


# --- The figures, computed here one row at a time --------------------------------------------------

def _day(moment) -> str:
    return moment.date().isoformat()


def _builds_of(version):
    return {b for b in Build.objects.all() if b.app_version.generations.filter(model_version=version,
                                                                               kind__in=MODEL_CALLS).exists()}


def expected(version) -> dict:
    """panel -> day -> the row's cells after the day (as the page formats them)."""
    tally = {p: defaultdict(Counter) for p in PANELS}
    samples = defaultdict(list)
    everyone = Counter(_day(g.created_at) for g in Generation.objects.filter(kind__in=MODEL_CALLS))
    for g in Generation.objects.filter(model_version=version, kind__in=MODEL_CALLS):
        day = _day(g.created_at)
        if g.kind in ANSWERS and g.status == "done":
            tally["accept-rate"][day]["total"] += 1
            users_pick = any(p.feedback is None or not p.feedback.from_staff
                             for p in PreferencePair.objects.filter(chosen_generation=g, source="pick"))
            tally["accept-rate"][day]["hits"] += users_pick or Feedback.objects.filter(
                generation=g, verdict="accept", from_staff=False).exists()
        tally["repair-rate"][day]["total"] += g.kind in ANSWERS
        tally["repair-rate"][day]["hits"] += g.kind == "repair"
        tally["traffic-share"][day]["hits"] += 1
        tally["traffic-share"][day]["total"] = everyone[day]
        for d in g.defects.all():
            tally["negatives"][day][d.kind] += 1
        builds = list(Build.objects.filter(app_version_id=g.app_version_id)) if g.app_version_id else []
        if any(b.failed_step == "bundle" for b in builds):
            tally["negatives"][day]["failed_build"] += 1
        if any(b.status == "ready" and b.smoke_status == "failed" for b in builds):
            tally["negatives"][day]["broken_preview"] += 1
        if g.status == "done" and g.time_to_first_token_ms is not None and g.duration_ms is not None:
            samples[day].append((g.time_to_first_token_ms, g.duration_ms))
        if g.completion_tokens is not None and any(b.build_passed and b.smoke_status == "passed" for b in builds):
            tally["tokens-per-working-app"][day]["hits"] += g.completion_tokens
            tally["tokens-per-working-app"][day]["total"] += 1
    for b in _builds_of(version):
        day = _day(b.created_at)
        if b.build_passed is not None:
            tally["build-pass-rate"][day]["total"] += 1
            tally["build-pass-rate"][day]["hits"] += b.build_passed
        if b.smoke_status in ("passed", "failed"):
            tally["smoke-pass-rate"][day]["total"] += 1
            tally["smoke-pass-rate"][day]["hits"] += b.smoke_status == "passed"
    return {"tally": tally, "samples": samples}


def quantiles(values: list[int]) -> tuple[float, float]:
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[-1]


def rows_for(panel: str, figures: dict, days: list[str]) -> list[list[str]]:
    """The expected cells after the label, for the given days (or versions' pooled days)."""
    tally, samples = figures["tally"][panel], figures["samples"]
    if panel in ("first-token", "total-time"):
        column = 0 if panel == "first-token" else 1
        pooled = [s[column] for day in days for s in samples[day]]
        median, p90 = quantiles(pooled)
        return [str(len(pooled)), f"{median:.1f}", f"{p90:.1f}"]
    hits, total = sum(tally[d]["hits"] for d in days), sum(tally[d]["total"] for d in days)
    if panel == "tokens-per-working-app":
        return [str(hits), str(total), f"{hits / total:.0f}"]
    return [str(hits), str(total), f"{hits / total if total else 0:.3f}"]


def test_each_chart_of_a_version_has_bars_and_its_table_matches_the_database(client, staff, seeded):
    client.force_login(staff)

    page = client.get(f"/review/versions/{seeded.id}/").content.decode()

    figures = expected(seeded)
    for panel in PANELS:
        rows, footer = table(page, panel)
        if panel == "negatives":
            kinds = re.findall(r"<th>(.*?)</th>", page[page.index('id="negatives-table"'):].split("</thead>")[0])[1:-1]
            by_day = figures["tally"]["negatives"]
            assert rows == [[day, *(str(by_day[day][k]) for k in kinds), str(sum(by_day[day].values()))]
                            for day in sorted(by_day)]
            assert set(kinds) == {k for day in by_day.values() for k in day}
            continue
        days = sorted(figures["samples"]) if panel in ("first-token", "total-time") else sorted(
            d for d, c in figures["tally"][panel].items() if c["total"] or c["hits"])
        assert rows == [[day, *rows_for(panel, figures, [day])] for day in days], panel
        assert footer == ["range", *rows_for(panel, figures, days)], panel
        assert rows, panel
        heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg(page, panel))]
        assert heights and any(h > 0 for h in heights), panel
    assert len({row[0] for row in table(page, "accept-rate")[0]}) == DAYS
    assert table(page, "negatives")[1][-1] == str(sum(sum(c.values()) for c in figures["tally"]["negatives"].values()))
    assert table(page, "repair-rate")[1][1] == "1"
    assert 0 < int(table(page, "build-pass-rate")[1][1]) < int(table(page, "build-pass-rate")[1][2])


def test_a_chosen_range_shows_only_its_days(client, staff, seeded):
    client.force_login(staff)
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()

    page = client.get(f"/review/versions/{seeded.id}/?since={yesterday}&until={yesterday}").content.decode()

    rows, footer = table(page, "accept-rate")
    assert [r[0] for r in rows] == [yesterday]
    assert footer[1:] == rows[0][1:]
    # A mistyped date falls back to the default range instead of failing.
    assert client.get(f"/review/versions/{seeded.id}/?since=yesterday").status_code == 200


def test_the_versions_side_by_side_match_the_database(client, staff, seeded):
    client.force_login(staff)

    page = client.get("/review/versions/").content.decode()

    versions = list(ModelVersion.objects.filter(generations__isnull=False).distinct().order_by("name"))
    assert len(versions) == 4  # the default version wrote nothing: not shown
    kinds = re.findall(r"<th>(.*?)</th>", page[page.index('id="negatives-table"'):].split("</thead>")[0])[1:-1]
    totals = {v.name: sum(expected(v)["tally"]["negatives"].values(), Counter()) for v in versions}
    assert table(page, "negatives")[0] == [[name, *(str(c[k]) for k in kinds), str(sum(c.values()))]
                                           for name, c in totals.items()]
    assert set(kinds) == {k for c in totals.values() for k in c}
    for panel in PANELS:
        if panel == "negatives":
            continue
        rows, _ = table(page, panel)
        want = []
        for version in versions:
            figures = expected(version)
            days = list(figures["samples"]) if panel in ("first-token", "total-time") else list(figures["tally"][panel])
            if panel in ("first-token", "total-time"):
                if days:
                    want.append([version.name, *rows_for(panel, figures, days)])
            elif panel == "tokens-per-working-app":
                hits = sum(figures["tally"][panel][d]["hits"] for d in days)
                total = sum(figures["tally"][panel][d]["total"] for d in days)
                want.append([version.name, str(hits), str(total), f"{hits / total if total else 0:.0f}"])
            else:
                want.append([version.name, *rows_for(panel, figures, days)])
        assert rows == want, panel
        heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg(page, panel))]
        assert any(h > 0 for h in heights), panel
    shares = table(page, "traffic-by-day")[0]
    assert shares and all(sum(float(x) for x in row[1:]) == pytest.approx(1, abs=0.01) for row in shares)
    assert 'href="/review/evaluations/"' in page


def test_a_normal_user_gets_404(client, owner, seeded):
    client.force_login(owner)
    assert client.get("/review/versions/").status_code == 404
    assert client.get(f"/review/versions/{seeded.id}/").status_code == 404
