"""Human renderings of `databuild diff` (terminal table, Markdown, self-contained HTML) and `databuild show`.

Every rendering shows the same content, built once by `_DiffView`: the split-move warning, the relation and the
settings that differ, the Used/All counts side by side with deltas, and per split the added, removed and changed
rows (the top `limit` of each; `limit=0` shows all). The HTML adds sortable tables and a visual preview of the
most changed intents when the version's pack has a previewer (the colour pack's test chart,
`databuild.packs.previewer`); it loads nothing from the network.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

from databuild.contracts import SPLITS
from databuild.display import rich_text, setting_text, visible
from databuild.pack import Tool
from pipelines.diff import VersionDiff, parameter_changes

PREVIEW_INTENTS = 6  # intents with a visual preview in the HTML report (never more than the limit)
_RELATION_TEXT = {
    "descendant": "{b} descends from {a}",
    "ancestor": "{a} descends from {b} (B is older than A)",
    "same": "A and B are the same version",
    "unrelated": "{a} and {b} share no lineage",
}


def _used_text(a_used: bool, b_used: bool) -> str:
    def word(used: bool) -> str:
        return "yes" if used else "no"

    return word(a_used) if a_used == b_used else f"{word(a_used)} → {word(b_used)}"


def _change_text(entry: dict[str, Any], tool: Tool) -> str:
    if tool.written_whole:  # exact tools read as a whole: every value before and after (`vivid 40 → none 0`)
        before, after = json.loads(entry["a"]), json.loads(entry["b"])

        def values(obj: dict[str, Any]) -> str:
            return " ".join(str(obj[s.key] if s.sub is None else obj[s.key][s.sub]) for s in tool.slots)

        return f"{values(before)} → {values(after)}"
    changes = parameter_changes(tool, entry["a"], entry["b"])
    return ", ".join(f"{name} {before} → {after}" for name, before, after in changes)


def _delta_text(delta: int) -> str:
    return f"+{delta}" if delta > 0 else str(delta)


@dataclass(frozen=True)
class _Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    total: int  # rows before the limit
    numeric: tuple[bool, ...]


class _DiffView:
    """The content every rendering shares, with the limit applied."""

    def __init__(self, diff: VersionDiff, limit: int) -> None:
        self.diff = diff
        self.payload = diff.payload
        self.a, self.b = diff.a, diff.b
        self.limit = limit

    def _top(self, items: list[Any]) -> list[Any]:
        return items if self.limit <= 0 else items[: self.limit]

    @property
    def title(self) -> str:
        return f"databuild diff: {self.a} → {self.b}"

    @property
    def packs_warning(self) -> str | None:
        packs = self.payload.get("packs")
        if not packs:
            return None
        shared = ", ".join(packs["shared_tools"]) or "none"
        return (
            f"{self.a} and {self.b} were built with different tool packs ({packs['a']} / {packs['b']}):"
            f" only the shared tools are compared ({shared})"
        )

    def warnings(self) -> list[str]:
        return [w for w in (self.packs_warning, self.moved_warning) if w]

    @property
    def relation_line(self) -> str:
        relation = self.payload["relation"]
        return f"{relation} (" + _RELATION_TEXT[relation].format(a=self.a, b=self.b) + ")"

    @property
    def moved_warning(self) -> str | None:
        moved = self.payload["moved"]
        if not moved:
            return None
        listed = ", ".join(f"{m['intent']} ({m['from']} → {m['to']})" for m in self._top(moved))
        more = f" and {len(moved) - len(self._top(moved))} more" if len(self._top(moved)) < len(moved) else ""
        noun = "intent" if len(moved) == 1 else "intents"
        return f"{len(moved)} {noun} moved between splits (train ↔ test): {listed}{more}"

    @property
    def test_line(self) -> str:
        test = self.payload["splits"]["test"]
        if not self.diff.split_differs("test"):
            return "test split: unchanged"
        counts = ", ".join(f"{len(test[kind])} {kind}" for kind in ("added", "removed", "changed"))
        return f"test split: CHANGED ({counts})"

    def settings_table(self) -> _Table:
        rows = [(s.key, setting_text(s.a), setting_text(s.b)) for s in self.diff.settings]
        return _Table("Settings that differ", ("setting", self.a, self.b), rows, len(rows), (False,) * 3)

    def counts_table(self) -> _Table:
        counts_a, counts_b = self.payload["counts"][self.a], self.payload["counts"][self.b]
        rows = []
        for split in SPLITS:
            for key in self.diff.count_keys:
                before, after = counts_a[split][key], counts_b[split][key]
                rows.append((split, key, before, after, _delta_text(after - before)))
        columns = ("split", "count", self.a, self.b, "Δ")
        return _Table("Counts (Used / All)", columns, rows, len(rows), (False, False, True, True, True))

    def split_summary(self, split: str) -> str:
        part = self.payload["splits"][split]
        return f"{split}: {len(part['added'])} added, {len(part['removed'])} removed, {len(part['changed'])} changed"

    def row_table(self, split: str, kind: str) -> _Table:
        entries = self.payload["splits"][split][kind]
        rows = [(e["intent"], e["source"], e["augmented_from"] or "", e["iteration"]) for e in self._top(entries)]
        columns = ("intent", "source", "augmented from", "iteration")
        return _Table(f"{kind.capitalize()} ({len(entries)})", columns, rows, len(entries), (False, False, False, True))

    def changed_table(self, split: str) -> _Table:
        entries = self.payload["splits"][split]["changed"]
        rows = [
            (
                e["intent"],
                e["tool"],
                _used_text(e["a_used"], e["b_used"]),
                _change_text(e, self.diff.pack.tool(e["tool"])),
                e["max_abs_delta"],
                f"{e['cosine']:.3f}",
            )
            for e in self._top(entries)
        ]
        columns = ("intent", "tool", "used", f"change ({self.a} → {self.b})", "max abs Δ", "cosine")
        numeric = (False, False, False, False, True, True)
        return _Table(f"Changed ({len(entries)}), most changed first", columns, rows, len(entries), numeric)

    def split_tables(self, split: str) -> list[_Table]:
        return [self.row_table(split, "added"), self.row_table(split, "removed"), self.changed_table(split)]

    def preview_intents(self, previewed: tuple[str, ...]) -> list[dict[str, Any]]:
        """The most changed intents whose `previewed` tools changed, with both sides' ground truth."""
        wanted = PREVIEW_INTENTS if self.limit <= 0 else min(PREVIEW_INTENTS, self.limit)
        chosen: list[dict[str, Any]] = []
        seen: set[str] = set()
        for entry in self.diff.most_changed():
            if entry["tool"] not in previewed or entry["intent"] in seen or len(chosen) >= wanted:
                continue
            seen.add(entry["intent"])
            truth = self.diff.both.filter(self.diff.both["intent"] == entry["intent"]).row(0, named=True)
            changed_tools = [
                e
                for e in self.payload["splits"][entry["split"]]["changed"]
                if e["intent"] == entry["intent"] and e["tool"] in previewed
            ]
            chosen.append(
                {"intent": entry["intent"], "split": entry["split"], "truth": truth, "changes": changed_tools}
            )
        return chosen


def _more_note(table: _Table) -> str | None:
    hidden = table.total - len(table.rows)
    return f"… and {hidden} more (complete lists: --format json)" if hidden > 0 else None


# ---------------------------------------------------------------- Markdown


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def _md(value: Any) -> str:
    """Cell text that renders literally: control characters visible, Markdown specials backslash-escaped, HTML as
    entities, one line."""
    text = visible(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _md_table(table: _Table) -> list[str]:
    if not table.rows:
        return ["_none_", ""]
    lines = [
        "| " + " | ".join(_md(c) for c in table.columns) + " |",
        "|" + "|".join("---:" if n else "---" for n in table.numeric) + "|",
    ]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in table.rows]
    note = _more_note(table)
    return lines + (["", f"_{_md(note)}_"] if note else []) + [""]


def render_markdown(diff: VersionDiff, limit: int = 20) -> str:
    """A pull-request comment: warnings first, then relation, settings, counts and per-split changes."""
    view = _DiffView(diff, limit)
    lines = [f"## {_md(view.title)}", ""]
    for warning in view.warnings():
        lines += [f"> **Warning:** {_md(warning)}", ""]
    lines += [f"- **Relation:** {_md(view.relation_line)}", f"- **{_md(view.test_line)}**", ""]
    settings = view.settings_table()
    lines += [f"### {settings.title}", ""] + _md_table(settings)
    counts = view.counts_table()
    lines += [f"### {counts.title}", ""] + _md_table(counts)
    for split in SPLITS:
        lines += [f"### {_md(view.split_summary(split))}", ""]
        for table in view.split_tables(split):
            lines += [f"**{_md(table.title)}**", ""] + _md_table(table)
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- terminal


def render_table(diff: VersionDiff, console: Any, limit: int = 20) -> None:
    """The diff as rich tables on `console` (stdout in the CLI)."""
    from rich.table import Table

    view = _DiffView(diff, limit)
    console.print(rich_text(view.title, "bold"))
    for warning in view.warnings():
        console.print(rich_text("Warning: " + warning, "bold yellow"))
    console.print(rich_text("relation: " + view.relation_line))
    console.print(rich_text(view.test_line, "bold red" if diff.split_differs("test") else ""))

    def show(table: _Table) -> None:
        if not table.rows:
            console.print(rich_text(f"{table.title}: none"))
            return
        rich_table = Table(title=rich_text(table.title), title_justify="left", show_lines=False)
        for index, (column, numeric) in enumerate(zip(table.columns, table.numeric, strict=True)):
            # The first column (intent, setting, split) stays on one line; the others wrap around it.
            rich_table.add_column(
                rich_text(column), justify="right" if numeric else "left", overflow="fold", no_wrap=index == 0
            )
        for row in table.rows:
            rich_table.add_row(*(rich_text(cell) for cell in row))
        console.print(rich_table)
        note = _more_note(table)
        if note:
            console.print(rich_text(note))

    show(view.settings_table())
    show(view.counts_table())
    for split in SPLITS:
        console.print()
        console.print(rich_text(view.split_summary(split), "bold"))
        for table in view.split_tables(split):
            show(table)


# ---------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d1d1f;max-width:1200px}
h1{font-size:20px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;margin:6px 0 14px}th,td{border:1px solid #d0d0d0;padding:3px 8px;text-align:left}
th{background:#f3f3f3;cursor:pointer;user-select:none}th.num,td.num{text-align:right}
th[data-order=asc]::after{content:" ▲"}th[data-order=desc]::after{content:" ▼"}
.warning{background:#fff4ce;border:1px solid #e0b400;padding:8px 12px;font-weight:600}
.changed{color:#b00020;font-weight:600}.note{color:#666;font-style:italic}
.previews{display:flex;flex-wrap:wrap;gap:18px}.preview{border:1px solid #ddd;padding:8px;margin:0}
.pair{display:flex;gap:8px}.side{display:flex;flex-direction:column;font-size:12px}
.side img{width:240px;height:240px;image-rendering:pixelated}figcaption{font-size:13px;max-width:490px}
"""

# Click a header to sort by that column (numbers numerically); a second click reverses.
_SORT_JS = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.dataset.order !== "asc";
    th.parentNode.querySelectorAll("th").forEach(function (other) { delete other.dataset.order; });
    th.dataset.order = ascending ? "asc" : "desc";
    var key = function (row) { var text = row.cells[index].textContent; var n = parseFloat(text);
      return th.classList.contains("num") && !isNaN(n) ? n : text.toLowerCase(); };
    Array.from(body.rows).sort(function (r1, r2) {
      var k1 = key(r1), k2 = key(r2); var order = k1 < k2 ? -1 : k1 > k2 ? 1 : 0;
      return ascending ? order : -order;
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _h(value: Any) -> str:
    return html.escape(visible(value), quote=True)


def _html_table(table: _Table) -> str:
    if not table.rows:
        return '<p class="note">none</p>'
    head = "".join(
        f'<th class="num">{_h(c)}</th>' if n else f"<th>{_h(c)}</th>"
        for c, n in zip(table.columns, table.numeric, strict=True)
    )
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_h(cell)}</td>' if n else f"<td>{_h(cell)}</td>"
            for cell, n in zip(row, table.numeric, strict=True)
        )
        + "</tr>"
        for row in table.rows
    )
    note = _more_note(table)
    more = f'<p class="note">{_h(note)}</p>' if note else ""
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>{more}'


REJECTED_SAMPLE = 5  # rejected candidates shown per reason in the HTML report


def _rejected_html(view: _DiffView) -> str:
    """A sample per reason of B's rejected augment candidates (datatrove's exclusion writers, for reviewers)."""
    rejected = view.diff.rejected
    assert rejected is not None
    parts = [f'<p class="note">{rejected.height} candidates of {_h(view.b)} were rejected; up to {REJECTED_SAMPLE} per '
             f"reason below, all of them in <code>{_h(view.b)}/rejected.parquet</code>.</p>"]  # fmt: skip
    for (reason,), group in rejected.sort("intent").group_by("reason", maintain_order=True):
        rows = [
            (r["intent_text"], r["source_intent"], r["near_test_intent"] or "",
             "" if r["near_test_cosine"] is None else f"{r['near_test_cosine']:.3f}")
            for r in group.head(REJECTED_SAMPLE).iter_rows(named=True)
        ]  # fmt: skip
        columns = ("candidate", "for intent", "near test intent", "cosine")
        table = _Table(f"{reason} ({group.height})", columns, rows, group.height, (False, False, False, True))
        parts.append(f"<h3>{_h(table.title)}</h3>{_html_table(table)}")
    return "".join(parts)


def _preview_html(view: _DiffView, preview: Any) -> str:
    chosen = view.preview_intents(preview.PREVIEW_TOOLS)
    if not chosen:
        return f'<p class="note">{_h(preview.EMPTY_NOTE)}</p>'
    parts = [
        f'<p class="note">{preview.NOTE}</p>',
        '<div class="previews">',
        '<figure class="preview"><figcaption>reference chart (no adjustments)</figcaption><div class="pair">'
        f'<div class="side"><img class="reference" alt="reference chart" src="{preview.reference_image()}">'
        "</div></div></figure>",
    ]
    for item in chosen:
        truth = item["truth"]
        changes = "; ".join(f"{c['tool']}: {_change_text(c, view.diff.pack.tool(c['tool']))}" for c in item["changes"])
        sides = []
        for side, version in (("a", view.a), ("b", view.b)):
            outputs = {tool: truth.get(f"{tool}_{side}") for tool in view.diff.tools}
            sides.append(
                f'<div class="side"><img class="preview-{side}" data-intent="{_h(item["intent"])}" '
                f'alt="{_h(item["intent"])} in {_h(version)}" src="{preview.side_image(outputs)}">'
                f"<span>{_h(version)} · {_h(preview.side_caption(outputs))}</span></div>"
            )
        parts.append(
            f'<figure class="preview"><figcaption><b>{_h(item["intent"])}</b> ({_h(item["split"])}) — {_h(changes)}'
            f'</figcaption><div class="pair">{"".join(sides)}</div></figure>'
        )
    parts.append("</div>")
    return "".join(parts)


def render_html(diff: VersionDiff, limit: int = 20) -> str:
    """One self-contained page (inline CSS, JS and PNG previews; no external URL) with the Markdown's content."""
    view = _DiffView(diff, limit)
    body = [f"<h1>{_h(view.title)}</h1>"]
    for warning in view.warnings():
        body.append(f'<p class="warning">Warning: {_h(warning)}</p>')
    test_class = ' class="changed"' if diff.split_differs("test") else ""
    body.append(f"<p>Relation: {_h(view.relation_line)}</p><p{test_class}>{_h(view.test_line)}</p>")
    for table in (view.settings_table(), view.counts_table()):
        body.append(f"<h2>{_h(table.title)}</h2>{_html_table(table)}")
    from databuild.packs import previewer

    preview = previewer(diff.pack)
    if preview is not None:  # other packs: the change tables only
        body.append(f"<h2>Visual preview</h2>{_preview_html(view, preview)}")
    if diff.rejected is not None and diff.rejected.height:
        body.append(f"<h2>Rejected candidates of {_h(view.b)}</h2>{_rejected_html(view)}")
    for split in SPLITS:
        body.append(f'<h2 id="split-{split}">{_h(view.split_summary(split))}</h2>')
        for table in view.split_tables(split):
            body.append(f"<h3>{_h(table.title)}</h3>{_html_table(table)}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(view.title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{_SORT_JS}</script>\n</body></html>\n"
    )
