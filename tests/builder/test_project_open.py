"""A project of any size opens: the socket's first message stays small however much the project holds,
and what it leaves out (earlier turns, a turn in full, a file's content) comes over HTTP to its owner
only."""

import json

import pytest
from channels.db import database_sync_to_async

from builder import selectors
from builder.models import Blob, Project, Turn
from builder.versions import create_version
from generation.models import Generation
from tests.builder.big_project import BIG_FILE_BYTES, big_file, make_project
from tests.builder.test_project_socket import connect

pytestmark = pytest.mark.django_db(transaction=True)

FIRST_MESSAGE_LIMIT = 64 * 1024


async def first_message(project, user) -> tuple[int, dict]:
    """The first socket message as sent: its size in bytes, and its content."""
    communicator, connected, _ = await connect(project.id, user=user)
    assert connected
    message = await communicator.receive_output(timeout=30)
    await communicator.disconnect()
    text = message["text"]
    return len(text.encode()), json.loads(text)


async def test_a_thousand_turn_project_opens_with_a_small_first_message(owner):
    project = await database_sync_to_async(make_project)(owner=owner, name="Long-lived", turns=1000)

    size, state = await first_message(project, owner)

    assert size <= FIRST_MESSAGE_LIMIT
    latest = await database_sync_to_async(lambda: project.turns.order_by("-id").first())()
    assert state["turns"][-1]["id"] == latest.id
    assert state["turns"][-1]["prompt"] == latest.prompt
    assert state["earlier_turns"] == 1000 - len(state["turns"])
    assert len(state["turns"]) == selectors.STATE_TURNS
    # Files are listed by path, size and hash; their content is never in the message.
    files = {f["path"]: f for f in state["turns"][-1]["generations"][0]["files"]}
    table = big_file(0)
    assert files["src/data/table0.js"] == {"path": "src/data/table0.js", "size": BIG_FILE_BYTES,
                                           "sha256": Blob.digest(table)}
    assert table[:1000] not in json.dumps(state)


def make_unwieldy_turn(owner) -> tuple[Project, Turn]:
    """The worst a single turn can hold: 30 regenerations, each with the most files the protocol allows
    under the longest non-ASCII paths, a long prompt, an explanation and an error of emoji."""
    from generation.models import ModelVersion
    from generation.protocol import MAX_FILES, MAX_PATH_CHARS

    project = Project.objects.create(owner=owner, name="🧱" * 120)
    model, _ = ModelVersion.objects.get_or_create(name="default", defaults={"backend": "openai"})
    turn = Turn.objects.create(project=project, prompt="✨" * 20_000, seed=1)
    for candidate in range(1, 31):
        files = {f"{i:03d}/" + "é" * (MAX_PATH_CHARS - 4): f"file {i}" for i in range(MAX_FILES)}
        version = create_version(project=project, files=files, parent=None)
        Generation.objects.create(
            turn=turn, model_version=model, candidate=candidate, seed=candidate, status=Generation.Status.DONE,
            explanation="😀" * 50_000, error="⚠" * 10_000, app_version=version,
        )
    return project, turn


async def test_the_first_message_stays_small_whatever_one_turn_holds(owner):
    project, turn = await database_sync_to_async(make_unwieldy_turn)(owner)

    size, state = await first_message(project, owner)

    assert size <= FIRST_MESSAGE_LIMIT
    [shown] = state["turns"]
    assert shown["prompt_truncated"] and shown["generation_count"] == 30
    newest = shown["generations"][-1]
    assert newest["explanation_truncated"] and newest["explanation"].startswith("😀")
    assert newest["file_count"] == 300 and 0 < len(newest["files"]) < 300


def test_show_all_gives_the_whole_turn(client, owner):
    project, turn = make_unwieldy_turn(owner)
    client.force_login(owner)

    whole = client.get(f"/projects/{project.id}/turns/{turn.id}/").json()

    assert whole["prompt"] == "✨" * 20_000 and not whole["prompt_truncated"]
    assert len(whole["generations"]) == 30
    assert whole["generations"][0]["explanation"] == "😀" * 50_000
    assert len(whole["generations"][0]["files"]) == 300


def test_earlier_turns_come_a_page_at_a_time_until_the_first(client, owner):
    project = make_project(owner=owner, name="Paged", turns=45, big_files=0)
    client.force_login(owner)
    state = selectors.project_state(project, owner)
    seen = [t["id"] for t in state["turns"]]
    earlier = state["earlier_turns"]

    while earlier:
        page = client.get(f"/projects/{project.id}/turns/", {"before": seen[0]}).json()
        assert page["turns"], "a page must not be empty while earlier turns remain"
        seen = [t["id"] for t in page["turns"]] + seen
        earlier = page["earlier_turns"]

    assert seen == list(project.turns.order_by("id").values_list("id", flat=True))


def test_a_page_of_turns_needs_a_cursor(client, owner, project):
    client.force_login(owner)
    response = client.get(f"/projects/{project.id}/turns/", {"before": "latest"})
    assert response.status_code == 400
    assert response.json()["error"] == "Say which turn to page back from: ?before=<turn id>."


def test_an_opened_file_is_its_stored_content_cached_for_good(client, owner, project):
    content = big_file(7)
    version = create_version(project=project, files={"src/data.js": content}, parent=None)
    client.force_login(owner)

    response = client.get(f"/projects/{project.id}/versions/{version.id}/blobs/{Blob.digest(content)}")

    assert response.status_code == 200
    assert response.content.decode() == content
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "immutable" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_another_users_files_and_turns_look_missing(client, owner, stranger, project, make_generation):
    secret = "export const KEY = 'olivia-only';\n"
    version = create_version(project=project, files={"src/secret.js": secret}, parent=None)
    turn = make_generation().turn
    sha = Blob.digest(secret)
    theirs = Project.objects.create(owner=stranger, name="Theirs")
    client.force_login(stranger)

    urls = [
        f"/projects/{project.id}/versions/{version.id}/blobs/{sha}",
        f"/projects/{theirs.id}/versions/{version.id}/blobs/{sha}",  # their project, her version
        f"/projects/{project.id}/turns/?before={turn.id + 1}",
        f"/projects/{project.id}/turns/{turn.id}/",
        f"/projects/{theirs.id}/turns/{turn.id}/",
    ]
    missing = client.get(f"/projects/{project.id + 100}/versions/{version.id + 100}/blobs/{'0' * 64}")
    for url in urls:
        response = client.get(url)
        assert (response.status_code, response.content) == (404, missing.content), url


def test_a_known_hash_opens_only_within_the_version_that_holds_it(client, owner, project):
    first = create_version(project=project, files={"a.js": "one"}, parent=None)
    create_version(project=project, files={"b.js": "two"}, parent=None)
    client.force_login(owner)

    response = client.get(f"/projects/{project.id}/versions/{first.id}/blobs/{Blob.digest('two')}")

    assert response.status_code == 404


def test_a_live_update_lists_files_without_their_content(owner, project, make_generation):
    generation = make_generation()
    files = {f"src/data/table{i}.js": big_file(i) for i in range(3)}
    generation.app_version = create_version(project=project, files=files, parent=None)
    generation.explanation = "Long story. " * 10_000
    generation.save()

    state = selectors.generation_state(generation, owner)

    assert len(json.dumps(state)) < 8_000
    assert [f["size"] for f in state["files"]] == [BIG_FILE_BYTES] * 3
    assert state["file_count"] == 3 and state["explanation_truncated"]
