"""Human renderings of `databuild eval`: the paper's table per subset (terminal and Markdown)."""

from __future__ import annotations

from typing import Any

from databuild.evaluation import SUBSETS


def report_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the paper's table: per subset, each tool's (selection, quality, final), and overall."""
    tools = list(result["invalid_outputs"])  # the pack's tools, in pack order
    header = ["subset", "intents"]
    for tool in tools:
        header += [f"{tool} sel", f"{tool} qual", f"{tool} final"]
    header.append("overall")
    rows = []
    for subset, _ in SUBSETS:
        metrics = result["subsets"][subset]
        row = [subset, str(metrics["intents"])]
        for tool in tools:
            row += [f"{metrics['tools'][tool][key]:.2f}" for key in ("selection", "quality", "final")]
        row.append(f"{metrics['overall']:.2f}")
        rows.append(row)
    return header, rows


def report_footer(result: dict[str, Any]) -> str:
    invalid = ", ".join(f"{tool} {count}" for tool, count in result["invalid_outputs"].items())
    return f"invalid outputs: {invalid}; missing predictions: {result['missing_predictions']}"


def render_markdown(result: dict[str, Any]) -> str:
    header, rows = report_rows(result)
    lines = [
        f"**{result['version']} / {result['split']}**",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        report_footer(result),
    ]
    return "\n".join(lines) + "\n"


def render_table(result: dict[str, Any]) -> Any:
    """A rich Table of the same figures, each tool as `sel qual final` in one cell (fits 80 columns)."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"{result['version']} / {result['split']}",
        caption=report_footer(result),
        box=box.SIMPLE_HEAD,
        show_edge=False,  # no blank lines of spaces above and below, no edge columns: 79 columns for the colour pack
        pad_edge=False,
    )
    table.add_column("subset", no_wrap=True)
    table.add_column("intents", justify="right", no_wrap=True)
    tools = list(result["invalid_outputs"])
    for tool in tools:
        table.add_column(f"{tool}\nsel qual final", justify="right", no_wrap=True)
    table.add_column("overall", justify="right", no_wrap=True)
    for subset, _ in SUBSETS:
        metrics = result["subsets"][subset]
        cells = [
            " ".join(f"{metrics['tools'][tool][key]:.2f}" for key in ("selection", "quality", "final"))
            for tool in tools
        ]
        table.add_row(subset, str(metrics["intents"]), *cells, f"{metrics['overall']:.2f}")
    return table
