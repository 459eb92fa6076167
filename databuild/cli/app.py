"""The typer application every command module registers on; global options live here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="databuild",
    help="Turn a teacher LLM's production logs into versioned fine-tuning datasets for small students.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

state = {"debug": False}


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    state["debug"] = debug
