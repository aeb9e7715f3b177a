"""Deleting a project deletes what it made: previews stopped, the apps' stored records gone."""

import pytest

from builder.models import Project
from sandbox.slots import data_dir

pytestmark = pytest.mark.django_db


def test_the_owner_deletes_a_project_with_its_stored_records(client, owner, project):
    records = data_dir(project.id)
    records.mkdir(parents=True, exist_ok=True)
    (records / "entities.sqlite3").write_text("the app's data")
    client.force_login(owner)

    response = client.post(f"/projects/{project.id}/delete/")

    assert response.status_code == 302
    assert not Project.objects.filter(id=project.id).exists()
    assert not records.exists()


def test_it_refuses_to_delete_another_users_project(client, stranger, project):
    client.force_login(stranger)

    response = client.post(f"/projects/{project.id}/delete/")

    assert response.status_code == 404
    assert Project.objects.filter(id=project.id).exists()


def test_deleting_needs_a_post(client, owner, project):
    client.force_login(owner)
    assert client.get(f"/projects/{project.id}/delete/").status_code == 405
    assert Project.objects.filter(id=project.id).exists()
