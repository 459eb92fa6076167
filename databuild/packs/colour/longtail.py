"""The long-tail world: simulated teacher traffic with the paper's properties, and a hidden truth to score against.

A look is one mood and one scene of `longtail_vocabulary.json` (320 of the 24 x 16 pairs). Every look has its own
true output per colour tool (some looks leave a tool unused, in the paper's Used/All shares); a look's parameters are
its mood's plus its scene's, so looks that share a mood or a scene are neighbours with similar outputs.
Intents are phrasings of looks: a template, a modifier, one synonym of the mood and one of the scene, a few typos;
each look has `phrasings_per_look` of them. Requests pick a look by a Zipf law and a phrasing of it by another.
The teacher answers each tool call right with a probability that falls with the look's difficulty (times
`teacher_noise`); otherwise it gives a neighbouring look's answer (70 %) or a random one (a random look's
parameters, a random LUT preset). A request's users export with a probability that rises with the quality of its
three outputs against the truth (the paper's per-tool score); a few heavy users export almost everything.
Responses, breakages (format errors at the paper world's rates) and records are written by the paper world's code
(`simulate.py`). `train_share` keeps only that share of the train intents, chosen by the snapshot's split hash,
and every test intent, whose traffic is the same as in the whole world.

Random streams: `[seed, 1]` draws the looks, their truth and phrasings (the phrasebook, cheap to rebuild: the
paraphrasing endpoint does); `[seed, 2]` draws the traffic. Everything per row is vectorized (NumPy + Polars).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from databuild.normalize import normalize_intent
from databuild.packs.colour.reference import lut_names, params
from databuild.packs.colour.simulate import (
    COT_MIDDLES,
    COTS,
    TOOLS,
    _bad_record_picks,
    _log_records,
    _with_bad_records,
    _with_responses,
)

VOCABULARY_PATH = Path(__file__).with_name("longtail_vocabulary.json")
N_LOOKS = 320
USED_SHARE = {"adjust": 0.92, "selective_adjust": 0.33, "filter": 0.66}  # the paper's Used/All (train + test)
LOOK_ZIPF = 1.0  # popularity of looks: weight 1 / rank^s
PHRASING_ZIPF = 1.1  # popularity of a look's phrasings
NEIGHBOUR_SHARE = 0.7  # a wrong answer is a neighbouring look's (else a random one)
INTENSITIES = (15, 40, 50, 60, 80)
HEAVY_USER_SHARE = 0.02
HEAVY_USER_EXPORT = 0.95


@dataclass(frozen=True)
class LongtailOptions:
    rows: int = 240_000  # ~9,500 intents with an export (the paper: 9,252)
    phrasings_per_look: int = 200
    seed: int = 0
    teacher_noise: float = 1.0
    train_share: float = 1.0
    split_seed: int = 0  # the snapshot's --seed and --test-fraction, whose split `train_share` follows
    test_fraction: float = 0.1
    malformed_share: float = 0.03
    bad_record_share: float = 0.002
    start: str = "2024-01-01T00:00:00Z"
    days: int = 120


@cache
def vocabulary() -> dict[str, Any]:
    return json.loads(VOCABULARY_PATH.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Phrasebook:
    """The looks (mood, scene) and each look's phrasings, most popular first."""

    look_mood: np.ndarray
    look_scene: np.ndarray
    phrasings: list[list[str]]  # per look

    def look_name(self, look: int) -> str:
        words = vocabulary()
        return f"{words['moods'][self.look_mood[look]]['name']} {words['scenes'][self.look_scene[look]]['name']}"

    def look_of(self) -> dict[str, int]:
        return {text: look for look, texts in enumerate(self.phrasings) for text in texts}


def compose(mood: int, scene: int, rng: np.random.Generator) -> str:
    """One phrasing of the look (mood, scene): a template, a modifier, a synonym of each, sometimes a typo."""
    words = vocabulary()
    mood_word = _pick(words["moods"][mood]["synonyms"], rng)
    scene_word = _pick(words["scenes"][scene]["synonyms"], rng)
    modifier = _pick(words["modifiers"], rng)
    if modifier:
        mood_word = f"{modifier} {mood_word}"
    if rng.random() < words["typo_share"]:
        if rng.random() < 0.5:
            mood_word = _typo(mood_word, rng)
        else:
            scene_word = _typo(scene_word, rng)
    return normalize_intent(_pick(words["templates"], rng).format(mood=mood_word, scene=scene_word))


def _pick(options: list[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def _typo(text: str, rng: np.random.Generator) -> str:
    """Two neighbouring letters of the text swapped (a dropped letter when they are equal)."""
    if len(text) < 4:
        return text
    i = int(rng.integers(1, len(text) - 2))
    if text[i] == text[i + 1]:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def build_phrasebook(seed: int, phrasings_per_look: int, rng: np.random.Generator | None = None) -> Phrasebook:
    """`N_LOOKS` looks and their distinct phrasings (a phrasing another look already owns is drawn again)."""
    rng = rng or np.random.default_rng([seed, 1])
    words = vocabulary()
    pairs = rng.permutation(len(words["moods"]) * len(words["scenes"]))[:N_LOOKS]
    look_mood, look_scene = pairs // len(words["scenes"]), pairs % len(words["scenes"])
    owned: set[str] = set()
    phrasings: list[list[str]] = []
    for mood, scene in zip(look_mood.tolist(), look_scene.tolist(), strict=True):
        texts: list[str] = []
        for _ in range(phrasings_per_look * 20):  # the space is far larger; the cap only guards a tiny vocabulary
            if len(texts) == phrasings_per_look:
                break
            text = compose(mood, scene, rng)
            if text not in owned:
                owned.add(text)
                texts.append(text)
        phrasings.append(texts)
    return Phrasebook(look_mood=look_mood, look_scene=look_scene, phrasings=phrasings)


@dataclass(frozen=True)
class Truth:
    """Per look: the true parameter vectors, the filter preset (0 = none) and intensity, and its difficulty."""

    adjust: np.ndarray  # (look, slot), zero rows when unused
    selective: np.ndarray
    preset: np.ndarray
    intensity: np.ndarray
    difficulty: np.ndarray
    neighbours: np.ndarray  # (look, k): looks sharing the mood or the scene, padded by repetition


def draw_truth(book: Phrasebook, rng: np.random.Generator) -> Truth:
    """True outputs: mood vector + scene vector (sparse, rounded, clipped), used in the paper's shares."""
    words = vocabulary()
    vectors = {}
    for tool in ("adjust", "selective_adjust"):
        slots = params(tool)
        sparse = 0.5 if tool == "adjust" else 0.3
        mood = rng.normal(0, 25, (len(words["moods"]), len(slots))) * (
            rng.random((len(words["moods"]), len(slots))) < sparse
        )
        scene = rng.normal(0, 25, (len(words["scenes"]), len(slots))) * (
            rng.random((len(words["scenes"]), len(slots))) < sparse
        )
        raw = mood[book.look_mood] + scene[book.look_scene] + rng.normal(0, 5, (N_LOOKS, len(slots)))
        vectors[tool] = _in_range(raw, slots) * (rng.random(N_LOOKS) < USED_SHARE[tool])[:, None]
    n_presets = len(lut_names())
    mood_preset = rng.integers(1, n_presets, len(words["moods"]))
    scene_preset = rng.integers(1, n_presets, len(words["scenes"]))
    preset = np.where(rng.random(N_LOOKS) < 0.5, mood_preset[book.look_mood], scene_preset[book.look_scene])
    preset = preset * (rng.random(N_LOOKS) < USED_SHARE["filter"])
    intensity = rng.integers(1, len(INTENSITIES), N_LOOKS)  # 40 … 80: close presets
    difficulty = rng.beta(2, 3, N_LOOKS)
    return Truth(vectors["adjust"], vectors["selective_adjust"], preset, intensity, difficulty, _neighbours(book))


def _in_range(raw: np.ndarray, slots: tuple[Any, ...]) -> np.ndarray:
    """Rounded integers within each slot's range; `hue` (0 … 360, an angle) stays 0; each row keeps a value."""
    out = raw.round()
    for i, slot in enumerate(slots):
        column = np.abs(out[:, i]) if slot.minimum >= 0 else out[:, i]
        out[:, i] = 0 if slot.key == "hue" else np.clip(column, slot.minimum, slot.maximum)
    empty = ~out.any(axis=1)
    out[empty, 1] = 10  # the second slot (contrast; orange saturation) is never `hue`
    return out.astype(np.int64)


def _neighbours(book: Phrasebook) -> np.ndarray:
    share = (book.look_mood[:, None] == book.look_mood[None, :]) | (
        book.look_scene[:, None] == book.look_scene[None, :]
    )
    np.fill_diagonal(share, False)
    width = max(1, int(share.sum(axis=1).max()))
    out = np.empty((N_LOOKS, width), dtype=np.int64)
    for look in range(N_LOOKS):
        found = np.flatnonzero(share[look])
        found = found if found.size else np.array([(look + 1) % N_LOOKS])
        out[look] = np.resize(found, width)
    return out


def output_object(tool: str, truth: Truth, look: int) -> dict[str, Any]:
    """A look's true output as the teacher writes it when right (`{}` / preset `none` when unused)."""
    if tool == "filter":
        return _filter_object(int(truth.preset[look]), int(truth.intensity[look]))
    vector = truth.adjust[look] if tool == "adjust" else truth.selective[look]
    obj: dict[str, Any] = {}
    for slot, value in zip(params(tool), vector.tolist(), strict=True):
        if value == 0:
            continue
        if slot.sub is None:
            obj[slot.key] = value
        else:
            obj.setdefault(slot.key, {})[slot.sub] = value
    return obj


def _filter_object(preset: int, intensity: int) -> dict[str, Any]:
    if preset == 0:
        return {"name": "none", "intensity": 0}
    return {"name": lut_names()[preset], "intensity": INTENSITIES[intensity]}


@dataclass(frozen=True)
class _Traffic:
    """Per request: its look, phrasing (index into the flat phrasebook), each tool's output index and quality."""

    look: np.ndarray
    phrasing: np.ndarray
    output: np.ndarray  # (request, tool): index into `_output_texts`
    quality: np.ndarray  # (request, tool): the paper's per-tool score of that output against the truth
    exported: np.ndarray
    user: np.ndarray


def zipf_weights(count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


def _requests(book: Phrasebook, truth: Truth, options: LongtailOptions, rng: np.random.Generator) -> _Traffic:
    """Requests by popularity, the teacher's answer per tool, the users and their exports."""
    n_requests = max(1, options.rows // 3)
    per_look = len(book.phrasings[0])
    look = rng.permutation(N_LOOKS)[rng.choice(N_LOOKS, size=n_requests, p=zipf_weights(N_LOOKS, LOOK_ZIPF))]
    rank = rng.choice(per_look, size=n_requests, p=zipf_weights(per_look, PHRASING_ZIPF))
    right_chance = np.clip(1 - options.teacher_noise * (0.1 + 0.5 * truth.difficulty[look]), 0.02, 1)
    outputs, qualities = [], []
    for offset, tool in enumerate(TOOLS):
        right = rng.random(n_requests) < right_chance
        neighbour = truth.neighbours[look, rng.integers(truth.neighbours.shape[1], size=n_requests)]
        wrong = np.where(rng.random(n_requests) < NEIGHBOUR_SHARE, neighbour, rng.integers(N_LOOKS, size=n_requests))
        answer = np.where(right, look, wrong)
        if tool == "filter":
            output, quality = _filter_answers(truth, look, answer, right, rng)
        else:
            output = answer + offset * N_LOOKS
            quality = _cosine_table(truth.adjust if tool == "adjust" else truth.selective)[look, answer]
        outputs.append(output)
        qualities.append(quality)
    quality = np.stack(qualities, axis=1)
    n_users = max(1, n_requests // 5)
    user = rng.choice(n_users, size=n_requests, p=zipf_weights(n_users, 0.8))
    heavy = (rng.random(n_users) < HEAVY_USER_SHARE)[user]
    export_chance = np.where(heavy, HEAVY_USER_EXPORT, 0.02 + 0.6 * quality.mean(axis=1) ** 3)
    exported = rng.random(n_requests) < export_chance
    return _Traffic(look, look * per_look + rank, np.stack(outputs, axis=1), quality, exported, user)


def _filter_answers(
    truth: Truth, look: np.ndarray, answer: np.ndarray, right: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The filter's answers: the answering look's preset, or (a random wrong answer in 30 % of the wrong ones) a
    random preset; its score is 1 when it matches the truth's use and preset, else 0."""
    n = len(look)
    random_preset = (~right) & (rng.random(n) < 1 - NEIGHBOUR_SHARE)
    preset = np.where(random_preset, rng.integers(1, len(lut_names()), n), truth.preset[answer])
    intensity = np.where(random_preset, rng.integers(len(INTENSITIES), size=n), truth.intensity[answer])
    quality = (preset == truth.preset[look]).astype(float)
    return 2 * N_LOOKS + preset * len(INTENSITIES) + intensity, quality


def _cosine_table(vectors: np.ndarray) -> np.ndarray:
    """The paper's score of look j's output for look i's truth: 1 if neither is used, 0 if one is, else the
    cosine of the vectors."""
    norms = np.linalg.norm(vectors, axis=1)
    used = norms > 0
    unit = vectors / np.where(used, norms, 1)[:, None]
    cosine = unit @ unit.T
    return np.where(used[:, None] & used[None, :], cosine, (~used[:, None] & ~used[None, :]).astype(float))


def _output_texts(truth: Truth) -> list[str]:
    """Every output the teacher can write, by index: adjust per look, selective per look, filter per (preset,
    intensity)."""
    texts = [json.dumps(output_object(tool, truth, look)) for tool in TOOLS[:2] for look in range(N_LOOKS)]
    texts += [
        json.dumps(_filter_object(preset, intensity))
        for preset in range(len(lut_names()))
        for intensity in range(len(INTENSITIES))
    ]
    return texts


def split_hash(intent: str, split_seed: int) -> int:
    """The snapshot's split hash (sql/50_split.sql): the first 8 bytes of sha256("{seed}\\x1f{intent}")."""
    return int.from_bytes(hashlib.sha256(f"{split_seed}\x1f{intent}".encode()).digest()[:8], "big")


def kept_intents(intents: list[str], options: LongtailOptions) -> np.ndarray:
    """Which intents `train_share` keeps: every test intent (h < T, the snapshot's threshold for the test
    fraction) and the train intents whose hash falls in the first `train_share` of the train range,
    T <= h < T + ceil(train_share * (2^64 - T))."""
    test_threshold = math.ceil(Fraction(options.test_fraction) * 2**64)
    train_threshold = test_threshold + math.ceil(Fraction(options.train_share) * (2**64 - test_threshold))
    hashes = [split_hash(intent, options.split_seed) for intent in intents]
    return np.array([h < test_threshold or h < train_threshold for h in hashes], dtype=bool)


@dataclass(frozen=True)
class World:
    """One simulated long-tail world: its phrasebook, its truth and the log records of its traffic."""

    book: Phrasebook
    truth: Truth
    records: pl.DataFrame
    logged: np.ndarray  # flat phrasing indices that appear in the records


def simulate_world(options: LongtailOptions) -> World:
    """The world for `options`: looks, truth, phrasings ([seed, 1]); traffic and responses ([seed, 2])."""
    from databuild.packs.colour.simulate import SimulationOptions

    world_rng = np.random.default_rng([options.seed, 1])
    book = build_phrasebook(options.seed, max(1, options.phrasings_per_look), world_rng)
    truth = draw_truth(book, world_rng)
    rng = np.random.default_rng([options.seed, 2])
    traffic = _requests(book, truth, options, rng)
    calls = _call_rows(book, truth, traffic, options, rng)
    flat = [text for texts in book.phrasings for text in texts]
    if options.train_share < 1:
        keep = kept_intents(flat, options)
        calls = calls.filter(pl.Series(keep).gather(calls.get_column("phrasing")))
    logged = calls.get_column("phrasing").unique().sort().to_numpy()
    records = _log_records(_with_responses(calls.drop("phrasing")), options.seed)
    bad = SimulationOptions(bad_record_share=options.bad_record_share)
    duplicates, broken = _bad_record_picks(records.height, bad, rng)
    return World(book, truth, _with_bad_records(records, duplicates, broken), logged)


def _call_rows(
    book: Phrasebook, truth: Truth, traffic: _Traffic, options: LongtailOptions, rng: np.random.Generator
) -> pl.DataFrame:
    """Three tool calls per request, in the columns the paper world's response writer reads (+ `phrasing`)."""
    n_requests = len(traffic.look)
    n_rows = n_requests * 3
    row_request = np.repeat(np.arange(n_requests), 3)
    row_tool = np.tile(np.arange(3), n_requests)
    flat = pl.Series([text for texts in book.phrasings for text in texts])
    malformed = rng.random(n_rows) < options.malformed_share
    start = np.datetime64(options.start.replace("Z", ""))
    seconds = rng.integers(0, options.days * 86400, n_requests)[row_request]
    return pl.DataFrame(
        {
            "row": np.arange(n_rows),
            "request": row_request,
            "tool": pl.Series(TOOLS).gather(row_tool),
            "phrasing": traffic.phrasing[row_request],
            "base": flat.gather(traffic.phrasing[row_request]),
            "surface_kind": rng.integers(0, 10, n_requests)[row_request],
            "json": pl.Series(_output_texts(truth)).gather(traffic.output[row_request, row_tool]),
            "malformed": np.where(malformed, rng.integers(0, 5, n_rows), -1),
            "cot": rng.integers(0, len(COTS), n_rows),
            "mid": rng.integers(0, len(COT_MIDDLES), n_rows),
            "noise": rng.integers(0, 1_000_000, n_rows),
            "exported": traffic.exported[row_request],
            "ts": (start + seconds.astype("timedelta64[s]")).astype("datetime64[ms]"),
            "user": traffic.user[row_request],
        }
    )


def truth_records(world: World) -> list[dict[str, Any]]:
    """Per logged intent (normalized, sorted): its look and the look's true output per tool."""
    per_look = len(world.book.phrasings[0])
    flat = [text for texts in world.book.phrasings for text in texts]
    out = []
    for index in sorted(world.logged.tolist(), key=lambda i: flat[i]):
        look = index // per_look
        outputs = {tool: output_object(tool, world.truth, look) for tool in TOOLS}
        out.append({"intent": flat[index], "look": world.book.look_name(look), "outputs": outputs})
    return out


def write_world(options: LongtailOptions, out: Path, truth: Path | None = None) -> int:
    """Write the world's logs to `out` (and its truth to `truth`, JSONL) atomically; returns the row count."""
    from databuild.packs.colour.simulate import check_output_path, write_records
    from databuild.store import check_writable_file

    check_output_path(out)
    if truth is not None:
        check_writable_file(truth, "--truth")
    world = simulate_world(options)
    written = write_records(world.records, out)
    if truth is not None:
        lines = "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in truth_records(world))
        truth.parent.mkdir(parents=True, exist_ok=True)
        tmp = truth.with_name(f".{truth.name}.tmp")
        try:
            tmp.write_text(lines, encoding="utf-8")
            tmp.replace(truth)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return written
