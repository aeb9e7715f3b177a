"""The offline blueprint model server, driven with the official openai client over real HTTP."""

import socket
import threading
import time

import httpx
import openai
import pytest

from generation.blueprint.server import split_tokens, start_in_thread
from generation.protocol import StreamParser

TODO = [
    {"role": "system", "content": "You are Kiln."},
    {"role": "user", "content": "a todo list where I can add, tick and delete tasks"},
]


@pytest.fixture(scope="module")
def server():
    server, base_url = start_in_thread(port=0, delay_ms=0)
    yield server, base_url
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server[1], api_key="x", max_retries=0)


def stream(client, messages=TODO, **kwargs):
    return list(
        client.chat.completions.create(model="kiln-blueprint", messages=messages, stream=True, **kwargs)
    )


def test_it_streams_a_whole_app_over_the_openai_protocol(client):
    chunks = stream(client, seed=1, stream_options={"include_usage": True})

    assert chunks[0].object == "chat.completion.chunk"
    assert chunks[0].choices[0].delta.role == "assistant"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 500
    assert max(len(c.choices[0].delta.content) for c in content_chunks) <= 8
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop"]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.completion_tokens == len(content_chunks)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens and usage.prompt_tokens > 0

    parser = StreamParser()
    for c in content_chunks:
        parser.feed(c.choices[0].delta.content)
    parser.finish("stop")
    assert {"app.json", "index.html", "src/main.jsx", "src/App.jsx", "src/api.js", "src/styles.css"} == set(
        parser.files
    )
    assert parser.issues == []
    assert "Each task has" in parser.explanation and "<file" not in parser.explanation


def test_usage_is_only_sent_when_asked_for(client):
    chunks = stream(client)

    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_max_tokens_cuts_the_answer_with_finish_reason_length(client):
    chunks = stream(client, max_tokens=40, stream_options={"include_usage": True})

    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "length"
    ]
    assert chunks[-1].usage.completion_tokens == 40
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert 40 <= len(text) <= 40 * 6


def test_a_length_cut_leaves_a_cut_off_file(client):
    chunks = stream(client, max_tokens=600)
    parser = StreamParser()
    for c in chunks:
        if c.choices and c.choices[0].delta.content:
            parser.feed(c.choices[0].delta.content)
    parser.finish(chunks[-1].choices[0].finish_reason)

    assert chunks[-1].choices[0].finish_reason == "length"
    assert any("length limit" in i.message for i in parser.issues)


def test_two_seeds_give_two_different_candidates(client):
    first = client.chat.completions.create(model="kiln-blueprint", messages=TODO, seed=1)
    second = client.chat.completions.create(model="kiln-blueprint", messages=TODO, seed=2)
    again = client.chat.completions.create(model="kiln-blueprint", messages=TODO, seed=1)

    assert first.choices[0].message.content != second.choices[0].message.content
    assert first.choices[0].message.content == again.choices[0].message.content


def test_a_plain_request_gets_one_chat_completion(client):
    completion = client.chat.completions.create(model="kiln-blueprint", messages=TODO, max_tokens=10)

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 10


def test_it_lists_its_model(client):
    assert [m.id for m in client.models.list()] == ["kiln-blueprint"]


def test_bad_requests_get_openai_style_errors(client, server):
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="kiln-blueprint", messages=[])
    assert "messages" in error.value.message

    response = httpx.post(f"{server[1]}/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_concurrent_streams_are_served_at_once():
    server, base_url = start_in_thread(port=0, delay_ms=2)
    try:
        client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
        results, started = [], time.monotonic()

        def one(seed):
            chunks = stream(client, seed=seed, max_tokens=300)
            results.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))

        threads = [threading.Thread(target=one, args=(seed,)) for seed in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert len(results) == 4 and all(results)
    assert elapsed < 4 * 300 * 0.002  # one at a time would take at least this long


def test_a_client_hanging_up_mid_stream_does_not_hurt_the_server(server, client):
    host, port = server[0].server_address[:2]
    body = b'{"stream": true, "messages": [{"role": "user", "content": "a recipe book"}]}'
    for _ in range(3):
        with socket.create_connection((host, port)) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            assert sock.recv(200).startswith(b"HTTP/1.1 200")
        # closed after the first bytes, mid-stream

    assert stream(client, max_tokens=5)[-1].choices[0].finish_reason == "length"


def test_token_pieces_join_back_to_the_text():
    text = 'Hello, wörld!\n  <file path="a.js">\nconst x = 12345;\t\n</file>\n'
    pieces = split_tokens(text)

    assert "".join(pieces) == text
    assert max(len(p.strip()) for p in pieces) <= 4
