"""An endpoint that refuses the key (401, 403) stops `augment --generator openai` at the first refusal: one `Error:`
line naming the endpoint without secrets, the status, the server's message and OPENAI_API_KEY; no new request
starts (issue 23, item 4). The loopback server of tests/llm_server.py counts what it received."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from databuild.cli import app
from tests.augment.test_augment_llm import augment_args, build_store, write_predictions
from tests.llm_server import ScriptedLLMServer, Status


@pytest.mark.parametrize("status", [401, 403])
def test_the_first_refusal_stops_the_run(tmp_path: Path, status: int) -> None:
    store, _ = build_store(tmp_path / "store")
    predictions = write_predictions(tmp_path / "predictions.jsonl")
    with ScriptedLLMServer(default=lambda source: Status(status)) as server:
        url = server.base_url.replace("http://", "http://user:secret@") + "?api-key=secret"
        args = augment_args(store.root, predictions, server)
        args[args.index("--base-url") + 1] = url
        args[args.index("--concurrency") + 1] = "1"  # one in flight: the refusal is the only request
        result = CliRunner().invoke(app, args, env={"OPENAI_API_KEY": "sk-wrong", "OPENAI_BASE_URL": None})
        sent = server.count()
    assert result.exit_code == 1
    assert sent == 1  # 10 requests were due (5 mistakes, --per-mistake 2)
    assert result.stderr.splitlines()[-1] == (
        f"Error: the endpoint {server.base_url} refused the request with HTTP {status} (scripted {status}); the key "
        "comes from the environment variable OPENAI_API_KEY: check it. The run stopped: no further request was sent"
    )
    assert "secret" not in result.output and "sk-wrong" not in result.output
    assert store.version_names() == ["v1"]


def test_requests_in_flight_may_finish_but_none_starts_after_a_refusal(tmp_path: Path) -> None:
    store, _ = build_store(tmp_path / "store")
    predictions = write_predictions(tmp_path / "predictions.jsonl")
    with ScriptedLLMServer(default=lambda source: Status(401)) as server:
        args = augment_args(store.root, predictions, server)  # --concurrency 4
        result = CliRunner().invoke(app, args, env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None})
        sent = server.count()
    assert result.exit_code == 1 and 1 <= sent <= 4
    assert result.stderr.splitlines()[-1].endswith(
        "refused the request with HTTP 401 (scripted 401); no key was sent: set the environment variable "
        "OPENAI_API_KEY. The run stopped: no further request was sent"
    )
