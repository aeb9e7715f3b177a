"""The runtime image command, and what happens when the Docker engine is not there."""

import pytest
from django.core.management import call_command

from sandbox import builds, docker_driver
from sandbox.image import runtime_image_tag
from sandbox.models import Build


def test_build_runtime_image_prints_the_cached_tag(runtime_image, capsys):
    call_command("build_runtime_image")

    assert capsys.readouterr().out.strip() == runtime_image == runtime_image_tag()


@pytest.fixture
def engine_gone(monkeypatch):
    # A real, unreachable engine address: what a worker meets when dockerd is down.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    docker_driver.client.cache_clear()
    docker_driver.runtime_name.cache_clear()
    yield
    monkeypatch.undo()
    docker_driver.client.cache_clear()
    docker_driver.runtime_name.cache_clear()


@pytest.mark.django_db
def test_a_build_without_an_engine_fails_with_a_clear_message(runtime_image, engine_gone, make_version,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        build = builds.create_build(app_version=make_version(), stream_key="")

    builds.build_and_preview(build.id)

    build.refresh_from_db()
    assert build.status == Build.Status.FAILED
    assert build.error == "Preview engine unavailable"
    assert "server API version" in build.log  # the engine's own words, for whoever reads the log
