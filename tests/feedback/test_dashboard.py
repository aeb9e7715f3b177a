"""The per-version dashboard: an SVG chart per rate (server-rendered, non-empty) with a table beside it
whose numbers match a query written here independently."""

import re
from collections import Counter

import pytest

from builder.review_demo import DAYS, seed
from feedback.models import PreferencePair
from generation.models import Generation, ModelVersion
from sandbox.models import Build

pytestmark = pytest.mark.django_db


def _table(page: str, panel: str) -> list[tuple[str, int, int]]:
    section = page[page.index(f'id="{panel}"'):]
    body = section[section.index("<tbody>"):section.index("</tbody>")]
    return [(d, int(h), int(t)) for d, h, t in re.findall(r"<tr><td>([\d-]+)</td><td>(\d+)</td><td>(\d+)</td>", body)]


def test_each_chart_draws_a_bar_per_day_and_its_table_matches_the_database(client, staff, settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    seed(turns=8, extra_votes=80)
    version = ModelVersion.objects.get(name="qwen-7b-base")  # wrote the app that failed to bundle
    client.force_login(staff)

    page = client.get(f"/review/versions/{version.id}/").content.decode()

    answers = Generation.objects.filter(model_version=version, status="done").exclude(kind="repair")
    shown, accepted = Counter(), Counter()
    for g in answers:
        day = g.created_at.date().isoformat()
        shown[day] += 1
        if g.feedback.filter(verdict="accept").exists() or PreferencePair.objects.filter(
                chosen_generation=g, source="pick").exists():
            accepted[day] += 1
    assert _table(page, "accept-rate") == [(day, accepted[day], shown[day]) for day in sorted(shown)]
    assert len(shown) == DAYS
    builds, passed = Counter(), Counter()
    for b in Build.objects.filter(app_version__generations__model_version=version).exclude(build_passed=None).distinct():
        builds[b.created_at.date().isoformat()] += 1
        passed[b.created_at.date().isoformat()] += b.build_passed
    assert _table(page, "build-pass-rate") == [(day, passed[day], builds[day]) for day in sorted(builds)]
    assert 0 < sum(passed.values()) < sum(builds.values())  # the failed bundle is in there
    # One bar per row of each table, with a height: the charts are not empty.
    svgs = re.findall(r"<svg.*?</svg>", page, re.DOTALL)
    assert len(svgs) == 2
    for svg, panel in zip(svgs, ("accept-rate", "build-pass-rate")):
        heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
        assert len(heights) == len(_table(page, panel)) and any(h > 0 for h in heights)
    assert "<script" not in page.split("</head>")[-1].replace('<script src="/static/review/review.js" defer></script>', "")


def test_a_normal_user_gets_404(client, owner):
    client.force_login(owner)
    assert client.get("/review/versions/").status_code == 404
