"""Whatever the browser (or anyone with the owner's cookie) sends, the socket answers with a message
and stays open: invalid JSON, JSON that is not an object, wrong field types, absurd nesting, binary."""

import json

import pytest

from builder.consumers import BAD_FIELD, BINARY_MESSAGE, NOT_JSON, UNKNOWN_MESSAGE
from tests.builder.test_project_socket import connect

pytestmark = pytest.mark.django_db(transaction=True)

MALFORMED = [
    ("{not json", NOT_JSON),
    ("null", NOT_JSON),
    ("[1, 2, 3]", NOT_JSON),
    ('"a bare string"', NOT_JSON),
    ("Infinity", NOT_JSON),
    ('{"type": Infinity}', NOT_JSON),
    ("[" * 100_000 + "]" * 100_000, NOT_JSON),
    ('{"type": ["prompt"]}', UNKNOWN_MESSAGE),
    ('{"type": "launch_missiles"}', UNKNOWN_MESSAGE),
    ('{"type": "prompt", "text": ["a", "list"]}', BAD_FIELD.format(field="text", kind="text")),
    ('{"type": "prompt", "text": "a todo app", "compare": "yes"}', BAD_FIELD.format(field="compare", kind="true or false")),
    ('{"type": "cancel", "generation": "1; drop table"}', BAD_FIELD.format(field="generation", kind="a whole number")),
    ('{"type": "cancel", "generation": true}', BAD_FIELD.format(field="generation", kind="a whole number")),
    ('{"type": "subscribe", "generation": 1, "after": -5}', BAD_FIELD.format(field="after", kind="a whole number")),
    ('{"type": "feedback", "generation": 1, "verdict": {"x": 1}}', BAD_FIELD.format(field="verdict", kind="text")),
    ('{"type": "regenerate", "turn": null}', BAD_FIELD.format(field="turn", kind="a whole number")),
]


@pytest.mark.parametrize(("message", "answer"), MALFORMED, ids=[m[:30] for m, _ in MALFORMED])
async def test_a_malformed_message_gets_an_error_and_the_socket_stays_open(project, owner, message, answer):
    communicator, connected, _ = await connect(project.id, user=owner)
    assert connected
    state = await communicator.receive_json_from(timeout=5)
    assert state["type"] == "state"

    await communicator.send_to(text_data=message)
    reply = await communicator.receive_json_from(timeout=5)
    assert reply == {"type": "error", "message": answer}

    # Still open and still working: a well-formed message after it is answered normally.
    await communicator.send_to(text_data=json.dumps({"type": "prompt", "text": "   "}))
    assert (await communicator.receive_json_from(timeout=5))["type"] == "error"
    await communicator.disconnect()


async def test_a_binary_frame_gets_an_error_and_the_socket_stays_open(project, owner):
    communicator, connected, _ = await connect(project.id, user=owner)
    await communicator.receive_json_from(timeout=5)
    await communicator.send_to(bytes_data=b"\x00\x01binary")
    assert await communicator.receive_json_from(timeout=5) == {"type": "error", "message": BINARY_MESSAGE}
    await communicator.send_to(text_data='{"type": "nope"}')
    assert (await communicator.receive_json_from(timeout=5))["message"] == UNKNOWN_MESSAGE
    await communicator.disconnect()


async def test_a_refused_prompt_echoes_the_browsers_ref_so_the_text_is_kept(project, owner):
    communicator, connected, _ = await connect(project.id, user=owner)
    await communicator.receive_json_from(timeout=5)
    await communicator.send_json_to({"type": "prompt", "text": "x" * 20_001, "ref": "r-42"})
    reply = await communicator.receive_json_from(timeout=5)
    assert reply["type"] == "error" and reply["ref"] == "r-42" and "too long" in reply["message"]
    await communicator.disconnect()
