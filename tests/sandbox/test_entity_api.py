"""The entity API of docs/app-format.md, through the preview proxy, on the real runtime."""

import json

import pytest

from sandbox.models import Build

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(build_preview, owner, preview_client):
    build = build_preview()
    assert build.status == Build.Status.READY, build.error
    client = preview_client(build)
    client.enter(build, owner)
    return client


def post(client, path, payload):
    return client.post(path, data=json.dumps(payload), content_type="application/json")


def test_records_round_trip_through_the_proxy(api):
    created = post(api, "/api/entities/Task", {"title": "Buy milk", "points": 2, "due": "2025-06-01"})
    post(api, "/api/entities/Task", {"title": "Wash car", "points": 5, "done": True, "size": "large"})
    post(api, "/api/entities/Task", {"title": "Call mum", "points": 1})

    assert created.status_code == 201
    record = created.json()
    assert {"id", "created_at", "updated_at"} <= set(record)
    assert record["title"] == "Buy milk" and record["done"] is False  # default from app.json

    assert [t["title"] for t in api.get("/api/entities/Task").json()] == ["Buy milk", "Wash car", "Call mum"]
    assert [t["title"] for t in api.get("/api/entities/Task?sort=-points").json()] == [
        "Wash car", "Buy milk", "Call mum"]
    assert [t["title"] for t in api.get("/api/entities/Task?sort=title").json()] == [
        "Buy milk", "Call mum", "Wash car"]
    assert [t["title"] for t in api.get("/api/entities/Task?done=true").json()] == ["Wash car"]
    assert [t["title"] for t in api.get("/api/entities/Task?size=large").json()] == ["Wash car"]

    url = f"/api/entities/Task/{record['id']}"
    assert api.get(url).json()["title"] == "Buy milk"
    patched = api.patch(url, data=json.dumps({"done": True}), content_type="application/json")
    assert patched.status_code == 200 and patched.json()["done"] is True and patched.json()["points"] == 2
    put = api.put(url, data=json.dumps({"title": "Buy oat milk"}), content_type="application/json")
    assert put.json()["title"] == "Buy oat milk" and put.json()["points"] is None
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


BAD_RECORDS = [
    ({"title": 3}, "field 'title' must be a string"),
    ({"title": "x", "points": 1.5}, "field 'points' must be an integer"),
    ({"title": "x", "done": "yes"}, "field 'done' must be true or false"),
    ({"title": "x", "due": "01/06/2025"}, "field 'due' must be a date (YYYY-MM-DD)"),
    ({"title": "x", "size": "huge"}, "field 'size' must be one of \"small\", \"large\""),
    ({"title": "x", "colour": "red"}, "unknown field: colour"),
    ({"points": 1}, "field 'title' is required"),
]


def test_a_bad_record_is_a_400_that_says_why(api):
    # One preview for every case: starting a container per case would only slow the suite down.
    for payload, error in BAD_RECORDS:
        response = post(api, "/api/entities/Task", payload)
        assert (response.status_code, response.json()) == (400, {"error": error}), payload
    assert api.post("/api/entities/Task", data="{not json", content_type="application/json").json() == {
        "error": "the body is not valid JSON"}
    assert api.get("/api/entities/Task").json() == []


def test_an_unknown_entity_is_a_404(api):
    response = api.get("/api/entities/Invoice")

    assert response.status_code == 404
    assert response.json() == {"error": "unknown entity"}


def test_a_client_side_route_gets_the_app_shell(api):
    assert b'<div id="root"></div>' in api.get("/tasks/3", HTTP_ACCEPT="text/html").content
    assert api.get("/missing.png", HTTP_ACCEPT="image/png").status_code == 404


def test_data_survives_a_new_version_of_the_project(api, build_preview, owner, preview_client):
    post(api, "/api/entities/Task", {"title": "Keep me"})

    rebuilt = build_preview()  # a new build: a new container, the same project data folder
    client = preview_client(rebuilt)
    client.enter(rebuilt, owner)

    assert [t["title"] for t in client.get("/api/entities/Task").json()] == ["Keep me"]


LENDING = {
    "name": "Lending",
    "entities": {
        "Book": {"fields": {"title": {"type": "string", "required": True},
                            "stars": {"type": "integer", "format": "rating", "min": 1, "max": 5}}},
        "Member": {"fields": {"name": {"type": "string", "required": True}}},
        "Loan": {"fields": {"book": {"type": "reference", "entity": "Book", "on_delete": "refuse"},
                            "member": {"type": "reference", "entity": "Member", "on_delete": "cascade"}}},
    },
}


@pytest.fixture
def lending(build_preview, owner, preview_client):
    from tests.sandbox.conftest import TODO_APP

    build = build_preview({**TODO_APP, "app.json": json.dumps(LENDING)})
    assert build.status == Build.Status.READY, build.error
    client = preview_client(build)
    client.enter(build, owner)
    return client


def test_links_between_records_are_checked_and_deletes_follow_app_json(lending):
    book = post(lending, "/api/entities/Book", {"title": "Dune", "stars": 5}).json()
    member = post(lending, "/api/entities/Member", {"name": "Ada"}).json()

    unknown = post(lending, "/api/entities/Loan", {"book": 9999, "member": member["id"]})
    assert (unknown.status_code, unknown.json()) == (400, {"error": "field 'book': there is no Book with id 9999"})
    wrong_type = post(lending, "/api/entities/Loan", {"book": "Dune"})
    assert wrong_type.json() == {"error": "field 'book' must be the id of a Book record"}
    assert post(lending, "/api/entities/Book", {"title": "x", "stars": 6}).json() == {
        "error": "field 'stars' must be at most 5"}
    loan = post(lending, "/api/entities/Loan", {"book": book["id"], "member": member["id"]})
    assert loan.status_code == 201
    assert [x["id"] for x in lending.get(f"/api/entities/Loan?book={book['id']}").json()] == [loan.json()["id"]]

    refused = lending.delete(f"/api/entities/Book/{book['id']}")  # on_delete "refuse": the loan stops it
    assert refused.status_code == 409
    assert "1 Loan record(s) link to it" in refused.json()["error"]
    assert lending.get(f"/api/entities/Book/{book['id']}").status_code == 200

    assert lending.delete(f"/api/entities/Member/{member['id']}").status_code == 204  # "cascade"
    assert lending.get("/api/entities/Loan").json() == []
    assert lending.delete(f"/api/entities/Book/{book['id']}").status_code == 204  # nothing links to it now
