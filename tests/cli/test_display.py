"""Hostile text shown to a person: control and bidi characters made visible in every human rendering, exact in JSON.

The store below holds intents, a command and run fields written by a hostile user: an OSC title change, SGR colour
and blink, a C1 CSI, a right-to-left override, and rich console markup (`[/]`). Every table, Markdown and HTML output
of `diff`, `show`, `versions`, `runs`, and every `Error:` line, must show them as escapes and contain none raw.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.display import escaped_json, visible
from databuild.store import open_store
from tests.diff_helpers import MANIFEST_A, VERSION_A_ROWS, publish, row

runner = CliRunner()

TITLE = "\x1b]0;pwned\x07"  # OSC: set the terminal's title
HOSTILE_INTENT = f"evil{TITLE}\x1b[31mred\x1b[5mblink\x9b2J\u202egnp.exe[/]x"
HOSTILE_INTENT_SHOWN = r"evil\x1b]0;pwned\x07\x1b[31mred\x1b[5mblink\x9b2J\u202egnp.exe[/]x"
HOSTILE_SOURCE = "src\u2066\u2069\u202a\x00"
HOSTILE_SOURCE_SHOWN = r"src\u2066\u2069\u202a\x00"
COMMAND = f"databuild augment --base-url x{TITLE}"
COMMAND_SHOWN = r"databuild augment --base-url x\x1b]0;pwned\x07"
# A raw C0 (other than newline), DEL, C1 or bidi control anywhere in a rendering fails the test.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def assert_no_raw_controls(text: str) -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, f"raw {found.group()!r} in output:\n{text!r}"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("display") / "store"
    store = open_store(root)
    publish(store, VERSION_A_ROWS, MANIFEST_A)
    hostile_row = row(
        HOSTILE_INTENT, "train", {"contrast": 5}, source="augmented", augmented_from=HOSTILE_SOURCE, iteration=1
    )
    publish(store, [*VERSION_A_ROWS, hostile_row], {"command": COMMAND, "parameters": {"base_url": f"x{TITLE}"}})
    manifest_path = store.version_dir("v2") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["created_at"] = f"2026-01-01{TITLE}"  # a hand-edited manifest is hostile input too
    manifest_path.write_text(json.dumps(manifest))
    run_dir = root / "runs" / "run-1"
    run_dir.mkdir(parents=True)
    run = {
        "run_id": "[/]x\x1b[2J",
        "status": "done\x1b[5m",
        "version": "v1\u202e",
        "options": {"model": "models/flan\x1b]0;t\x07", "epochs": 1},
        "arch": "t5",
        "mode": "full",
        "epochs_done": 1,
        "selected_epoch": 1,
        "selected_overall": 0.5,
        "created_at": "2026-01-01",
    }
    (run_dir / "run.json").write_text(json.dumps(run))
    return root


def flat(text: str) -> str:
    return re.sub(r"[\s│┃]", "", text)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})  # wide enough for rich not to crop cells
    return result.exit_code, result.stdout, result.stderr


def test_visible_escapes_controls_and_bidi_and_keeps_everything_else() -> None:
    assert visible("a\x1b[31mb") == r"a\x1b[31mb"
    assert visible("\x00\x07\t\n\r\x7f\x85\x9b") == r"\x00\x07\x09\x0a\x0d\x7f\x85\x9b"
    assert visible("\u202a\u202b\u202c\u202d\u202e") == r"\u202a\u202b\u202c\u202d\u202e"
    assert visible("\u2066\u2067\u2068\u2069") == r"\u2066\u2067\u2068\u2069"
    assert visible("golden hour ✓ é 日本 [/]x <b> \\x1b") == "golden hour ✓ é 日本 [/]x <b> \\x1b"
    assert visible(Path("a\x1bb")) == r"a\x1bb" and visible(42) == "42"


@pytest.mark.parametrize("output_format", ["table", "markdown", "html"])
def test_diff_renderings_show_escapes(store_root: Path, output_format: str) -> None:
    code, out, err = invoke("diff", "v1", "v2", "--store", str(store_root), "--format", output_format)
    assert code == 0, err
    assert_no_raw_controls(out)
    if output_format == "markdown":  # the escape's backslash is itself escaped, so it renders as `\x1b`
        added = r"| evil\\x1b\]0;pwned\\x07\\x1b\[31mred\\x1b\[5mblink\\x9b2J\\u202egnp.exe\[/\]x | augmented | "
        assert added + r"src\\u2066\\u2069\\u202a\\x00 | 1 |" in out.splitlines()
    else:  # a narrow terminal folds long cells: compare without the table's layout
        for shown in (HOSTILE_INTENT_SHOWN, HOSTILE_SOURCE_SHOWN, r"--base-url", r"x\x1b]0;pwned\x07"):
            assert flat(shown) in flat(out)


def test_diff_json_keeps_the_exact_data(store_root: Path) -> None:
    code, out, err = invoke("diff", "v1", "v2", "--store", str(store_root), "--format", "json")
    assert code == 0, err
    assert_no_raw_controls(out)  # JSON's own escapes: `\u001b`, `\u202e`
    assert r'"intent": "evil\u001b]0;pwned\u0007\u001b[31mred\u001b[5mblink\u009b2J\u202egnp.exe[/]x"' in out
    added = json.loads(out)["splits"]["train"]["added"]
    assert [(a["intent"], a["augmented_from"]) for a in added] == [(HOSTILE_INTENT, HOSTILE_SOURCE)]


def test_show_versions_and_runs_show_escapes(store_root: Path) -> None:
    code, out, err = invoke("show", "v2", "--store", str(store_root))
    assert code == 0, err
    assert_no_raw_controls(out)
    assert f"  command: {COMMAND_SHOWN}" in out.splitlines()
    assert r"  parameters.base_url: x\x1b]0;pwned\x07" in out.splitlines()
    assert json.loads(invoke("show", "v2", "--store", str(store_root), "--format", "json")[1])["command"] == COMMAND

    code, out, err = invoke("versions", "--store", str(store_root))
    assert code == 0, err
    assert_no_raw_controls(out)
    assert r"2026-01-01\x1b]0;pwned\x07" in flat(out)

    code, out, err = invoke("runs", "--store", str(store_root))  # `[/]x` is text, not console markup
    assert code == 0, err
    assert_no_raw_controls(out)
    for shown in (r"[/]x\x1b[2J", r"done\x1b[5m", r"v1\u202e", r"flan\x1b]0;t\x07"):
        assert shown in flat(out), out
    code, out, err = invoke("runs", "--store", str(store_root), "--format", "json")
    assert code == 0, err
    assert_no_raw_controls(out)
    assert json.loads(out)[0]["run_id"] == "[/]x\x1b[2J" and json.loads(out)[0]["version"] == "v1\u202e"


def test_error_lines_show_file_names_escaped(tmp_path: Path) -> None:
    missing = tmp_path / "logs\x1b]0;pwned\x07\u202e.jsonl"
    code, _, err = invoke("augment", "--store", str(tmp_path), "--predictions", str(missing))
    assert code == 1
    assert err == f"Error: predictions file {visible(missing)} not found\n"
    assert r"logs\x1b]0;pwned\x07\u202e.jsonl" in err
    code, _, err = invoke("versions", "--store", str(tmp_path / "no\x1b[2Jstore"), "--format", "table")
    assert_no_raw_controls(err)


def test_predict_prints_a_student_name_as_text_not_markup(store_root: Path, tmp_path: Path) -> None:
    args = ["--split", "test", "--student", "[/]x\x1b[2J", "--output", str(tmp_path / "p.jsonl")]
    code, _, err = invoke("predict", "--store", str(store_root), *args)
    assert code == 1  # the student is resolved before any work (its run's version is the default version)
    assert len(err.splitlines()) == 1
    assert err.splitlines()[-1].startswith(r"Error: student '[/]x\x1b[2J' is neither 'knn' nor a trained run")


def test_used_share_is_the_one_used_all_cell() -> None:
    from databuild.display import used_share

    assert used_share(963, 1060) == "963 / 1060 (91%)"  # 90.85 % rounds to 91 %
    assert used_share(0, 0) == "0 / 0"  # an empty split has no share


# Format characters (Unicode category Cf) show nothing: a zero-width space, a word joiner and a byte order mark
# inside an intent make two different intents look the same to a reviewer.
INVISIBLE_INTENT = "warm\u200bthe\u2060photo\ufeffplease"
INVISIBLE_INTENT_SHOWN = r"warm\u200bthe\u2060photo\ufeffplease"


def test_visible_escapes_every_format_character() -> None:
    import sys
    import unicodedata

    assert visible(INVISIBLE_INTENT) == INVISIBLE_INTENT_SHOWN
    assert visible("\u00ad\u200d\U000e0041") == r"\xad\u200d\U000e0041"
    format_characters = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    unescaped = [f"U+{ord(c):04X}" for c in format_characters if visible(c) == c]
    assert unescaped == []
    assert json.loads(escaped_json(json.dumps(INVISIBLE_INTENT + "\U000e0041", ensure_ascii=False))) == (
        INVISIBLE_INTENT + "\U000e0041"
    )
    assert escaped_json('"\u200b\U000e0041"') == r'"\u200b\udb40\udc41"'


@pytest.mark.parametrize("output_format", ["table", "markdown"])
def test_format_characters_are_escaped_in_the_table_and_the_markdown(tmp_path: Path, output_format: str) -> None:
    store = open_store(tmp_path / "store")
    publish(store, VERSION_A_ROWS, MANIFEST_A)
    invisible_row = row(INVISIBLE_INTENT, "train", {"contrast": 5}, source="augmented", augmented_from="a\u200bb")
    publish(store, [*VERSION_A_ROWS, invisible_row], {"command": "databuild augment"})
    code, out, err = invoke("diff", "v1", "v2", "--store", str(tmp_path / "store"), "--format", output_format)
    assert code == 0, err
    for character in ("\u200b", "\u2060", "\ufeff"):
        assert character not in out
    if output_format == "markdown":
        assert r"| warm\\u200bthe\\u2060photo\\ufeffplease | augmented | a\\u200bb | 0 |" in out.splitlines()
    else:
        assert INVISIBLE_INTENT_SHOWN in flat(out)
