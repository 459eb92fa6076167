"""`databuild diff`: the exact JSON of a handmade change set, golden Markdown/HTML, the HTML in headless Chromium,
the preview images, `--fail-on-test-change`, defaults and errors.

Golden files are in tests/fixtures/diff/; regenerate them after an intended change with
`DATABUILD_UPDATE_GOLDEN=1 .venv/bin/pytest tests/pipelines/test_diff.py` and review the git diff.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from databuild.cli import app
from databuild.contracts import load_rows
from databuild.packs.colour.preview import CHART_WIDTH, PATCH, encode_png, reference_chart, render
from databuild.store import open_store
from pipelines.diff import diff_rows, read_version_rows
from pipelines.report import render_html, render_markdown
from tests.diff_helpers import GOLDEN_ADJUST as GOLDEN_HOUR
from tests.diff_helpers import VERSION_B_ROWS, frame, publish, publish_fixture_versions, row

runner = CliRunner()
GOLDEN = Path(__file__).parents[1] / "fixtures" / "diff"
CHROMIUM = Path("/usr/bin/chromium")
PNG_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")

# Canonical JSON written out by hand (key order of tools.md), independent of databuild.tools.
ADJUST_KEYS = ("exposure", "contrast", "brightness", "highlights", "shadows", "saturation", "vibrance")
ADJUST_KEYS += ("temperature", "tint", "hue", "bloom", "sharpen", "structure", "linearOffset")
COLOURS = ("red", "orange", "yellow", "green", "cyan", "blue")


def adjust_json(**nonzero: int) -> str:
    return "{" + ",".join(f'"{key}":{nonzero.get(key, 0)}' for key in ADJUST_KEYS) + "}"


def selective_json(**saturation: int) -> str:
    return "{" + ",".join(f'"{c}":{{"saturation":{saturation.get(c, 0)},"luminance":0}}' for c in COLOURS) + "}"


def teacher(intent: str) -> dict[str, Any]:
    return {"intent": intent, "source": "teacher", "augmented_from": None, "iteration": 0}


EXPECTED = {
    "a": "v1",
    "b": "v2",
    "relation": "descendant",
    "counts": {
        # v1 train: golden hour, cool morning, vintage film, dark night, x-ray; adjust unused only by x-ray,
        # selective used by golden hour + dark night, filter by golden hour + vintage film + x-ray.
        "v1": {
            "train": {"rows": 5, "adjust_used": 4, "selective_adjust_used": 2, "filter_used": 3},
            "test": {"rows": 1, "adjust_used": 1, "selective_adjust_used": 1, "filter_used": 0},
        },
        # v2 train: golden hour, cool morning, vintage film (adjust now all 0), retro cinema;
        # v2 test: sunset glow, x-ray (adjust and selective unused), foggy forest.
        "v2": {
            "train": {"rows": 4, "adjust_used": 3, "selective_adjust_used": 2, "filter_used": 3},
            "test": {"rows": 3, "adjust_used": 2, "selective_adjust_used": 2, "filter_used": 2},
        },
    },
    "splits": {
        "train": {
            "added": [
                {"intent": "retro cinema", "source": "augmented", "augmented_from": "vintage film", "iteration": 1}
            ],
            # x-ray moved to test: removed from train, added to test, and listed in "moved".
            "removed": [teacher("dark night"), teacher("x-ray")],
            "changed": [
                # rename faded_Retro 60 -> faded_Mist 50: one LUT fades out, the other in: max(60, 50) = 60, cos 0.
                {
                    "intent": "vintage film",
                    "tool": "filter",
                    "a": '{"name":"faded_Retro","intensity":60}',
                    "b": '{"name":"faded_Mist","intensity":50}',
                    "a_used": True,
                    "b_used": True,
                    "max_abs_delta": 60,
                    "cosine": 0.0,
                },
                # used flip off -> on: cyan saturation 0 -> 20, cosine 0 (one side all zeros). Ties with the
                # next entry on (cosine 0, delta 20): "cool morning" < "vintage film".
                {
                    "intent": "cool morning",
                    "tool": "selective_adjust",
                    "a": selective_json(),
                    "b": selective_json(cyan=20),
                    "a_used": False,
                    "b_used": True,
                    "max_abs_delta": 20,
                    "cosine": 0.0,
                },
                # used flip on -> off: |0 - (-20)| = 20 (saturation), cosine 0.
                {
                    "intent": "vintage film",
                    "tool": "adjust",
                    "a": adjust_json(contrast=-10, saturation=-20),
                    "b": adjust_json(),
                    "a_used": True,
                    "b_used": False,
                    "max_abs_delta": 20,
                    "cosine": 0.0,
                },
                # contrast 10 -> 20, temperature 30 -> 45: max delta 15.
                # |a|^2 = 100+100+400+100+225+225+900+100 = 2150; |b|^2 = 2150 - 100 + 400 - 900 + 2025 = 3575;
                # a.b = 2150 - 100 + 200 - 900 + 1350 = 2700; 2700 / sqrt(2150 * 3575) = 2700 / 2772.4087 = 0.973882
                {
                    "intent": "golden hour",
                    "tool": "adjust",
                    "a": adjust_json(**GOLDEN_HOUR),
                    "b": adjust_json(**(GOLDEN_HOUR | {"contrast": 20, "temperature": 45})),
                    "a_used": True,
                    "b_used": True,
                    "max_abs_delta": 15,
                    "cosine": 0.973882,
                },
                # same LUT, intensity 40 -> 55: delta 15, cosine 1 (parallel one-slot vectors).
                {
                    "intent": "golden hour",
                    "tool": "filter",
                    "a": '{"name":"faded_HighNoon","intensity":40}',
                    "b": '{"name":"faded_HighNoon","intensity":55}',
                    "a_used": True,
                    "b_used": True,
                    "max_abs_delta": 15,
                    "cosine": 1.0,
                },
            ],
        },
        "test": {
            "added": [teacher("foggy forest"), teacher("x-ray")],
            "removed": [],
            "changed": [
                # temperature 40 -> 50 (saturation 20 both): a.b = 2000 + 400 = 2400; |a| = sqrt(2000),
                # |b| = sqrt(2900); 2400 / sqrt(5 800 000) = 2400 / 2408.3189 = 0.996546
                {
                    "intent": "sunset glow",
                    "tool": "adjust",
                    "a": adjust_json(saturation=20, temperature=40),
                    "b": adjust_json(saturation=20, temperature=50),
                    "a_used": True,
                    "b_used": True,
                    "max_abs_delta": 10,
                    "cosine": 0.996546,
                }
            ],
        },
    },
    "moved": [{"intent": "x-ray", "from": "train", "to": "test"}],
}


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("diff") / "store"
    assert publish_fixture_versions(open_store(root)) == ("v1", "v2")
    return root


@pytest.fixture(scope="module")
def three_versions(store_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the store plus v3 (parent v2: one train change, test untouched) and v4 (no parent)."""
    root = tmp_path_factory.mktemp("diff3") / "store"
    shutil.copytree(store_root, root)
    store = open_store(root)
    train_tweak = [
        row("cool morning", "train", {"exposure": 15, "temperature": -30}, {"cyan": {"saturation": 20}})
        if r["intent"] == "cool morning"
        else r
        for r in VERSION_B_ROWS
    ]
    assert publish(store, train_tweak, {"command": "databuild snapshot --seed 0", "parameters": {}}).name == "v3"
    lonely = publish(
        store, [row("lonely", "train")], {"command": "x", "parameters": {}}, parent=None, parent_is_newest=False
    )
    assert lonely.name == "v4"
    return root


def diff(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["diff", *args])
    return result.exit_code, result.stdout, result.stderr


def test_exact_json(store_root: Path) -> None:
    code, out, err = diff("v1", "v2", "--store", str(store_root), "--format", "json")
    assert code == 0, err
    assert json.loads(out) == EXPECTED


def test_defaults_a_is_parent_of_b_and_b_is_newest(store_root: Path) -> None:
    _, explicit, _ = diff("v1", "v2", "--store", str(store_root), "--format", "json")
    code, implicit, _ = diff("--store", str(store_root), "--format", "json")
    assert code == 0 and implicit == explicit
    code, only_a, _ = diff("v1", "--store", str(store_root), "--format", "json")
    assert code == 0 and only_a == explicit


def test_ancestor_swaps_added_and_removed(store_root: Path) -> None:
    code, out, _ = diff("v2", "v1", "--store", str(store_root), "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["relation"] == "ancestor"
    assert payload["splits"]["train"]["added"] == EXPECTED["splits"]["train"]["removed"]
    assert payload["moved"] == [{"intent": "x-ray", "from": "test", "to": "train"}]
    swapped = {(c["intent"], c["tool"]): (c["b"], c["a"], c["cosine"]) for c in payload["splits"]["train"]["changed"]}
    original = {(c["intent"], c["tool"]): (c["a"], c["b"], c["cosine"]) for c in EXPECTED["splits"]["train"]["changed"]}
    assert swapped == original


def test_same_version_is_empty(store_root: Path) -> None:
    code, out, _ = diff("v2", "v2", "--store", str(store_root), "--format", "json", "--fail-on-test-change")
    assert code == 0
    payload = json.loads(out)
    assert payload["relation"] == "same"
    assert payload["moved"] == []
    assert all(not entries for part in payload["splits"].values() for entries in part.values())
    assert list(payload["counts"]) == ["v2"]  # A and B share one key


def test_unrelated_and_descendant_over_two_steps(three_versions: Path) -> None:
    code, out, _ = diff("v1", "v4", "--store", str(three_versions), "--format", "json")
    assert code == 0 and json.loads(out)["relation"] == "unrelated"
    code, out, _ = diff("v1", "v3", "--store", str(three_versions), "--format", "json")
    assert code == 0 and json.loads(out)["relation"] == "descendant"  # v3 -> v2 -> v1


def test_no_parent_and_no_a_is_a_clear_error(three_versions: Path) -> None:
    code, out, err = diff("--store", str(three_versions))  # the newest, v4, has no parent
    assert code == 1
    assert err == "Error: v4 has no parent to compare with; name both versions, e.g. databuild diff vA v4\n"


def test_fail_on_test_change_exit_codes(store_root: Path, three_versions: Path) -> None:
    # v1 -> v2: the test split gained foggy forest and x-ray and sunset glow changed.
    code, _, err = diff("v1", "v2", "--store", str(store_root), "--fail-on-test-change", "--format", "json")
    assert code == 1
    assert err == "test split changed between v1 and v2: 2 added, 0 removed, 1 changed\n"
    code, _, _ = diff("v1", "v2", "--store", str(store_root), "--format", "json")
    assert code == 0  # without the flag a difference is not a failure
    # v2 -> v3 changes only cool morning's exposure in train.
    code, out, err = diff("v2", "v3", "--store", str(three_versions), "--fail-on-test-change", "--format", "json")
    assert code == 0, err
    changed = json.loads(out)["splits"]["train"]["changed"]
    assert [(c["intent"], c["tool"], c["max_abs_delta"]) for c in changed] == [("cool morning", "adjust", 5)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["v1", "v9"], "Error: no version 'v9' in store"),
        (["--format", "xml"], "Error: --format must be one of table, markdown, json, html, not 'xml'"),
        (["--limit", "-1"], "Error: --limit must be 0 (all) or more, not -1"),
    ],
)
def test_user_errors_exit_1(store_root: Path, args: list[str], message: str) -> None:
    code, out, err = diff(*args, "--store", str(store_root))
    assert code == 1
    assert err.startswith(message)
    assert "Traceback" not in out + err


def test_empty_store_is_an_error(tmp_path: Path) -> None:
    code, _, err = diff("--store", str(tmp_path / "nothing"))
    assert code == 1 and "has no dataset versions yet" in err


def test_table_format_shows_warning_first_and_top_limit(store_root: Path) -> None:
    code, out, _ = diff("--store", str(store_root), "--limit", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "databuild diff: v1 → v2"
    assert lines[1] == "Warning: 1 intent moved between splits (train ↔ test): x-ray (train → test)"
    assert "test split: CHANGED (2 added, 0 removed, 1 changed)" in lines
    assert "… and 3 more (complete lists: --format json)" in lines  # 5 train changes, 2 shown
    assert "golden hour" not in out  # ranks 4 and 5 of the train changes are cut


def _update_or_compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DATABUILD_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


def test_markdown_golden(store_root: Path) -> None:
    code, out, _ = diff("--store", str(store_root), "--format", "markdown")
    assert code == 0
    _update_or_compare("v1_v2.md", out)


def test_markdown_limit_and_escaping() -> None:
    hostile = "<img src=x onerror=alert(1)> | *bold* `code`"
    rows_a = frame([row(hostile, "train", {"contrast": 5})])
    rows_b = frame([row(hostile, "train", {"contrast": 9}), row("b", "train"), row("c", "train")])
    result = diff_rows(rows_a, rows_b, "v1", "v2", "descendant")
    markdown = render_markdown(result, limit=1)
    assert r"&lt;img src=x onerror=alert(1)&gt; \| \*bold\* \`code\`" in markdown
    assert "<img" not in markdown
    assert r"_… and 1 more (complete lists: --format json)_" in markdown  # added: b, c; limit 1
    page = render_html(result, limit=1)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page


def _html_without_pixels(text: str) -> str:
    """PNG bytes depend on zlib and float rounding: golden files hold a placeholder, the pixels are tested below."""
    return PNG_URI.sub("data:image/png;base64,<PNG>", text)


def test_html_golden_and_atomic_output(store_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "reports" / "diff.html"
    code, out, err = diff("--store", str(store_root), "--format", "html", "--output", str(target))
    assert code == 0
    assert out == "" and err == f"wrote {target}\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["diff.html"]  # no temporary file left behind
    text = target.read_text(encoding="utf-8")
    _update_or_compare("v1_v2.html", _html_without_pixels(text))
    # Self-contained: no URL other than data: URIs and in-page anchors, no CSS url(), no imports.
    attributes = re.findall(r"""(?:src|href|action|poster)\s*=\s*["']([^"']*)["']""", text, flags=re.IGNORECASE)
    assert attributes and all(a.startswith(("data:image/png;base64,", "#")) for a in attributes)
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/|url\(|@import|fetch\(|XMLHttpRequest", text)


def test_output_file_holds_what_stdout_shows(store_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "diff.json"
    target.write_text("old content")
    _, stdout_json, _ = diff("--store", str(store_root), "--format", "json")
    code, _, _ = diff("--store", str(store_root), "--format", "json", "--output", str(target))
    assert code == 0 and target.read_text() == stdout_json
    code, _, _ = diff("--store", str(store_root), "--output", str(tmp_path / "diff.txt"))
    assert code == 0 and (tmp_path / "diff.txt").read_text().startswith("databuild diff: v1 → v2\n")


def test_fast_reader_matches_load_rows(store_root: Path) -> None:
    store = open_store(store_root)
    for name in ("v1", "v2"):
        fast = read_version_rows(store, name).sort("intent")
        reference = load_rows(store, name).sort("intent")
        assert fast.equals(reference.select(fast.columns))


# ---------------------------------------------------------------- preview images


def decode_png(data: bytes) -> np.ndarray:
    """Decoder for the PNGs `encode_png` writes (8-bit RGB, filter 0 on every row)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[position + 8 + length : position + 12 + length])[0]
        header, idat = (body, idat) if kind == b"IHDR" else (header, idat + body if kind == b"IDAT" else idat)
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert (depth, colour_type) == (8, 2)
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * 3)
    assert not raw[:, 0].any()  # filter type 0
    return raw[:, 1:].reshape(height, width, 3)


def test_png_round_trip() -> None:
    pixels = render(None, None)
    assert np.array_equal(decode_png(encode_png(pixels)), pixels)
    assert np.array_equal(pixels, np.round(reference_chart() * 255).astype(np.uint8))


def _preview_images(page: str) -> dict[tuple[str, str], np.ndarray]:
    import base64

    images = {}
    for side, intent, uri in re.findall(r'<img class="preview-(a|b)" data-intent="([^"]*)"[^>]*src="([^"]+)"', page):
        images[(intent, side)] = decode_png(base64.b64decode(uri.split(",", 1)[1]))
    return images


def test_preview_images_non_blank_and_differ_where_parameters_differ(store_root: Path) -> None:
    _, page, _ = diff("--store", str(store_root), "--format", "html")
    images = _preview_images(page)
    # Intents with an adjust/selective change, most changed first (filter-only changes get no preview).
    assert sorted({intent for intent, _ in images}) == ["cool morning", "golden hour", "sunset glow", "vintage film"]
    for image in images.values():
        assert image.shape == (120, 120, 3) and image.std() > 20  # a chart, not a flat colour
    reference = render(None, None)
    for intent in ("cool morning", "golden hour", "sunset glow", "vintage film"):
        assert not np.array_equal(images[(intent, "a")], images[(intent, "b")]), intent
    # vintage film's v2 adjust and selective are all zero: exactly the untouched chart.
    assert np.array_equal(images[("vintage film", "b")], reference)
    # cool morning only gained cyan saturation +20: the neutral patch row (4th row) is untouched, the cyan
    # patch (row 3, column 6) changes.
    a, b = images[("cool morning", "a")], images[("cool morning", "b")]
    assert np.array_equal(a[3 * PATCH : 4 * PATCH], b[3 * PATCH : 4 * PATCH])
    cyan = (slice(2 * PATCH, 3 * PATCH), slice(5 * PATCH, CHART_WIDTH))
    assert np.abs(a[cyan].astype(int) - b[cyan]).max() > 3
    # golden hour's temperature 30 -> 45 makes the mid-grey patch warmer: more red than blue, more so in v2.
    grey = (slice(3 * PATCH + 5, 4 * PATCH - 5), slice(3 * PATCH + 5, 4 * PATCH - 5))  # neutral 5
    warmth = {}
    for side in "ab":
        patch = images[("golden hour", side)][grey].astype(int)
        warmth[side] = patch[..., 0].mean() - patch[..., 2].mean()
    assert 0 < warmth["a"] < warmth["b"]


# ---------------------------------------------------------------- the HTML in headless Chromium

_PROBE_HEAD = """<script>
window.__problems = [];
window.addEventListener("error", function (e) {
  window.__problems.push("error: " + (e.message || (e.target && (e.target.src || e.target.href)) || "?"));
}, true);
window.addEventListener("unhandledrejection", function (e) { window.__problems.push("rejection: " + e.reason); });
(function () {
  var original = console.error;
  console.error = function () {
    window.__problems.push("console.error: " + Array.prototype.join.call(arguments, " "));
    original.apply(console, arguments);
  };
})();
</script>"""
# After load: the problems, every resource request, and per <img> the decoded pixels' spread and a hash.
_PROBE_TAIL = """<script>
window.addEventListener("load", function () {
  var report = {problems: window.__problems, images: [],
    requests: performance.getEntriesByType("resource").map(function (e) { return e.name; })};
  document.querySelectorAll("img").forEach(function (img) {
    if (!img.naturalWidth) { report.images.push({cls: img.className, broken: true}); return; }
    var canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    var context = canvas.getContext("2d"); context.drawImage(img, 0, 0);
    var d = context.getImageData(0, 0, canvas.width, canvas.height).data;
    var sum = 0, squares = 0, hash = 0, n = d.length / 4;
    for (var i = 0; i < d.length; i += 4) { var v = (d[i] + d[i + 1] + d[i + 2]) / 3; sum += v; squares += v * v; }
    for (var j = 0; j < d.length; j++) { hash = (hash * 31 + d[j]) % 1000000007; }
    report.images.push({cls: img.className, intent: img.dataset.intent || null, width: img.naturalWidth,
      std: Math.sqrt(Math.max(0, squares / n - (sum / n) * (sum / n))), hash: hash});
  });
  var delta = Array.from(document.querySelectorAll("th")).find(function (th) { return th.textContent === "Δ"; });
  if (delta) {  // sort the counts table by Δ, ascending (numerically: "+2" after "+1" after "0" after "-1")
    delta.click();
    report.sorted = Array.from(delta.closest("table").tBodies[0].rows).map(function (r) {
      return r.cells[0].textContent + " " + r.cells[1].textContent + " " + r.cells[4].textContent; });
  }
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(report);
  document.body.appendChild(pre);
});
</script>"""


def _chromium_probe(page: str, tmp_path: Path) -> dict[str, Any]:
    """Open `page` with the probe injected (errors, resource requests, decoded image pixels) and read it back."""
    probed = page.replace("<head>", "<head>" + _PROBE_HEAD, 1).replace("</body>", _PROBE_TAIL + "</body>", 1)
    html_path = tmp_path / "probe.html"
    html_path.write_text(probed, encoding="utf-8")
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        html_path.as_uri(),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r'<pre id="probe">(.*?)</pre>', completed.stdout, re.S)
    assert match, f"no probe output; chromium exit {completed.returncode}: {completed.stderr[-2000:]}"
    import html

    return json.loads(html.unescape(match.group(1)))


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (Debian package `chromium`; .ci/run installs it)"
)


@needs_chromium
def test_html_in_headless_chromium(store_root: Path, tmp_path: Path) -> None:
    _, page, _ = diff("--store", str(store_root), "--format", "html")
    report = _chromium_probe(page, tmp_path)
    assert report["problems"] == []
    assert report["requests"] == []  # data: URIs make no resource request
    previews = [image for image in report["images"] if image["cls"].startswith("preview-")]
    assert len(previews) == 8  # 4 intents, v1 and v2 side by side
    assert all(image["width"] == 120 and image["std"] > 20 for image in report["images"])  # decoded, not blank
    by_intent: dict[str, dict[str, int]] = {}
    for image in previews:
        by_intent.setdefault(image["intent"], {})[image["cls"]] = image["hash"]
    assert all(sides["preview-a"] != sides["preview-b"] for sides in by_intent.values())
    reference = next(image["hash"] for image in report["images"] if image["cls"] == "reference")
    assert by_intent["vintage film"]["preview-b"] == reference  # all-zero adjustments render the chart itself
    # The inline sort script works: a stable numeric sort of the counts table by its delta column.
    assert report["sorted"] == [
        "train rows -1",
        "train adjust_used -1",
        "train selective_adjust_used 0",
        "train filter_used 0",
        "test adjust_used +1",
        "test selective_adjust_used +1",
        "test rows +2",
        "test filter_used +2",
    ]


@needs_chromium
def test_chromium_probe_catches_errors_and_requests(store_root: Path, tmp_path: Path) -> None:
    """The probe is not blind: a broken script and an external image are reported."""
    _, page, _ = diff("--store", str(store_root), "--format", "html")
    broken = page.replace("</body>", '<img src="http://databuild.invalid/x.png"><script>missing()</script></body>')
    report = _chromium_probe(broken, tmp_path)
    assert any("missing is not defined" in problem for problem in report["problems"])
    assert report["requests"] == ["http://databuild.invalid/x.png"]


# ---------------------------------------------------------------- properties of the diff


_intents = st.sampled_from(["a", "b", "c", "d", "e"])
_row_strategy = st.builds(
    lambda intent, split, contrast, cyan, lut: row(
        intent, split, {"contrast": contrast}, {"cyan": {"saturation": cyan}}, lut
    ),
    _intents,
    st.sampled_from(["train", "test"]),
    st.integers(-3, 3),
    st.integers(0, 2),
    st.sampled_from([None, {"name": "vivid", "intensity": 40}, {"name": "north", "intensity": 40}]),
)


def _version(rows: list[dict[str, Any]]) -> pl.DataFrame:
    unique = {r["intent"]: r for r in rows}  # one row per intent, like a real version
    return frame(list(unique.values())) if unique else frame([row("z", "train")])


@settings(max_examples=60, deadline=None)
@given(st.lists(_row_strategy, max_size=6), st.lists(_row_strategy, max_size=6))
def test_diff_properties(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]]) -> None:
    version_a, version_b = _version(rows_a), _version(rows_b)
    forward = diff_rows(version_a, version_b, "A", "B", "unrelated").payload
    backward = diff_rows(version_b, version_a, "B", "A", "unrelated").payload
    for split in ("train", "test"):
        part = forward["splits"][split]
        growth = forward["counts"]["B"][split]["rows"] - forward["counts"]["A"][split]["rows"]
        assert growth == len(part["added"]) - len(part["removed"])
        assert part["added"] == backward["splits"][split]["removed"]
        flipped = {(c["intent"], c["tool"]): (c["b"], c["a"], c["max_abs_delta"], c["cosine"]) for c in part["changed"]}
        assert flipped == {
            (c["intent"], c["tool"]): (c["a"], c["b"], c["max_abs_delta"], c["cosine"])
            for c in backward["splits"][split]["changed"]
        }
        for change in part["changed"]:
            assert change["a"] != change["b"] and -1.0 <= change["cosine"] <= 1.0 and change["max_abs_delta"] > 0
        keys = [(c["cosine"], -c["max_abs_delta"]) for c in part["changed"]]
        assert keys == sorted(keys)
    same = diff_rows(version_a, version_a, "A", "A", "same").payload
    assert same["moved"] == [] and all(not v for part in same["splits"].values() for v in part.values())
