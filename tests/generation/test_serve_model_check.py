"""manage.py serve_model_check against a real OpenAI-compatible streaming server."""

import pytest
from django.core.management import CommandError, call_command

from tests.stack import free_port


@pytest.fixture(scope="module")
def model_server():
    from generation.blueprint.server import start_in_thread

    server, base_url = start_in_thread(port=0)
    yield base_url
    server.shutdown()


def test_it_reports_speed_and_a_parsed_app(model_server, capsys):
    call_command("serve_model_check", "--url", model_server)

    out = capsys.readouterr().out
    assert "time to first token:" in out and " ms" in out
    assert "tokens per second:" in out
    assert "protocol:            parsed:" in out


def test_a_cut_off_answer_is_reported_as_not_parsing(model_server, capsys):
    with pytest.raises(CommandError, match="did not parse"):
        call_command("serve_model_check", "--url", model_server, "--max-tokens", "200")
    assert "finish_reason=length" in capsys.readouterr().out


def test_an_unreachable_endpoint_is_a_clear_error():
    with pytest.raises(CommandError, match="The endpoint failed"):
        call_command("serve_model_check", "--url", f"http://127.0.0.1:{free_port()}/v1")
