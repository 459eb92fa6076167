"""The CLI's conventions: workflow order in --help, --version, --debug anywhere, the command recorded as typed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from databuild.cli import app
from databuild.store import open_store

FIXTURE = Path(__file__).parents[1] / "fixtures" / "teacher_logs.jsonl"
WORKFLOW = ["simulate", "snapshot", "versions", "show", "predict", "eval", "augment", "diff", "export", "train", "runs"]


def test_help_lists_commands_in_workflow_order() -> None:
    out = CliRunner().invoke(app, ["--help"]).stdout
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == WORKFLOW


def test_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"databuild {version('databuild')}\n"


def test_debug_after_the_command_shows_the_traceback_and_does_not_stick(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.jsonl")
    runner = CliRunner()
    debug = runner.invoke(app, ["snapshot", "--logs", missing, "--store", str(tmp_path), "--debug"])
    assert debug.exit_code == 1 and debug.exception is not None and "log file" in str(debug.exception)
    plain = runner.invoke(app, ["snapshot", "--logs", missing, "--store", str(tmp_path)])
    assert plain.exit_code == 1 and plain.output.startswith("Error: ") and len(plain.output.splitlines()) == 1


def test_the_recorded_command_is_the_command_as_typed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    args = ["--debug", "snapshot", "--store", str(store), "--logs", str(FIXTURE), "--test-fraction", "0.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # global options are left out; the arguments keep the order they were typed in
    expected = f"databuild snapshot --store {store} --logs {FIXTURE} --test-fraction 0.5"
    assert open_store(store).manifest("v1")["command"] == expected


def test_plain_help_shows_defaults_and_no_type_noise_on_flags() -> None:
    out = CliRunner().invoke(app, ["train", "--help"]).stdout
    assert "Learning rate [default: 2e-4 LoRA, 3e-4 seq2seq, 2e-5 causal]." in " ".join(out.split())
    assert "[default: 10]" in out  # --epochs
    flag_lines = [line for line in out.splitlines() if line.strip().startswith("--gradient-checkpointing")]
    assert flag_lines and "<bool>" not in flag_lines[0]


def test_recorded_command_redacts_both_option_forms() -> None:
    from databuild.cli.app import state
    from databuild.cli.common import recorded_command

    secret = "http://user:pw@host:8000/v1?api-key=SECRET"
    state["argv"] = ["augment", "--base-url", secret, f"--base-url={secret}", "--model", "m"]
    assert recorded_command({secret: "http://host:8000/v1"}) == (
        "databuild augment --base-url http://host:8000/v1 --base-url=http://host:8000/v1 --model m"
    )
