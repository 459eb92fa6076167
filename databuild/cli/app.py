"""The typer application every command module registers on; global options live here.

Commands are listed in workflow order (`WORKFLOW`), not alphabetically; `--debug` is
accepted anywhere on the command line; `databuild --version` prints the installed version.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

state: dict[str, Any] = {"debug": False, "argv": []}


WORKFLOW = ("simulate", "snapshot", "versions", "show", "predict", "eval", "augment", "diff", "export", "train", "runs")


class _WorkflowGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        order = {name: index for index, name in enumerate(WORKFLOW)}
        return sorted(self.commands, key=lambda name: (order.get(name, len(order)), name))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # `--debug` after the subcommand too (`databuild snapshot --debug …`), up to a `--` that ends the options
        end = args.index("--") if "--" in args else len(args)
        state["debug"] = "--debug" in args[:end]  # set per invocation (tests invoke the app many times)
        args = [arg for index, arg in enumerate(args) if arg != "--debug" or index >= end]
        state["argv"] = list(args)  # the command as typed, less the global options (for manifests)
        return super().parse_args(ctx, args)


app = typer.Typer(
    name="databuild",
    cls=_WorkflowGroup,
    help="Turn a teacher LLM's production logs into versioned fine-tuning datasets for small students.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain text: `[default: …]` is never eaten as markup
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"databuild {version('databuild')}")
        raise typer.Exit()


@app.callback()
def _global_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for errors (also after the command).")
    ] = False,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    del debug  # listed for -h only: `_WorkflowGroup.parse_args` takes `--debug` out wherever it stands
