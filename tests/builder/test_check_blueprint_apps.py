"""Every app kind of the offline model's catalogue builds, runs and passes the smoke test in Chromium."""

import pytest
from django.core.management import call_command

from builder.models import Project
from generation.blueprint.catalogue import PROMPTS

pytestmark = pytest.mark.django_db


def test_every_catalogue_app_kind_builds_and_passes_the_smoke_test(capsys):
    assert len(PROMPTS) >= 12

    call_command("check_blueprint_apps")  # raises CommandError when any kind fails

    out = capsys.readouterr().out
    assert f"{len(PROMPTS)} of {len(PROMPTS)} app kinds built and passed the smoke test." in out
    assert not Project.objects.exists()  # the check cleans up after itself
