"""Writes examples/smart_home/teacher_logs.jsonl: a small hand-made log of a smart-home teacher for the tool pack
`tools.json` beside it. Kept as a script so every record can be read; tests/test_smart_home.py derives its
expectations by hand from the records below.

Run: python examples/smart_home/make_log.py
"""

import json
import random
from pathlib import Path

OUT = Path(__file__).with_name("teacher_logs.jsonl")
lines: list[str] = []
counter = {"event": 0}


def call(request, intent, tool, response, exported, ts="2024-05-02T19:30:00Z", event=None):
    counter["event"] += 1
    record = {
        "event_id": event or f"e{counter['event']:04d}",
        "request_id": request,
        "ts": ts,
        "intent": intent,
        "tool": tool,
        "response": response,
        "exported": exported,
    }
    lines.append(json.dumps(record))


def request(rid, intent, lights, thermostat, music, exported, ts="2024-05-02T19:30:00Z"):
    for tool, obj in (("set_lights", lights), ("set_thermostat", thermostat), ("play_music", music)):
        text = obj if isinstance(obj, str) else f"Thinking about '{intent}' for {tool} ... JSON: {json.dumps(obj)}"
        call(rid, intent, tool, text, exported, ts)


OFF = {"genre": "none"}  # the teacher's "no music" (genre is required)

# --- the intents the test spells out -----------------------------------------------------------------------------
# cosy evening: lights {brightness 30, 2200 K, relax} exported 2 of 2 beats {brightness 60} 1 of 2
COSY = {"brightness": 30, "colour_temperature": 2200, "scene": "Relax"}
request("cosy-1", "Cosy evening", COSY, {"target": 21.2, "mode": "heat"}, {"genre": "jazz", "volume": 25}, True)
request("cosy-2", "cosy  evening", COSY, {"target": 21.2, "mode": "heat"}, {"genre": "jazz", "volume": 25}, True)
request("cosy-3", "cosy evening", {"brightness": 60}, {"target": 22, "mode": "heat"}, {"genre": "jazz"}, True)
request("cosy-4", "cosy evening", {"brightness": 60}, {"target": 22, "mode": "heat"}, {"genre": "jazz"}, False)
# movie night: a tie on export rate for the thermostat (1/1 each): more calls decide nothing (1 each), so the
# smaller canonical JSON wins: {"target":19,"mode":"heat"} < {"target":20.5,"mode":"auto"}
request("movie-1", "movie night", {"brightness": 10, "scene": "movie"}, {"target": 20.5, "mode": "auto"}, OFF, True)
request("movie-2", "movie night", {"brightness": 10, "scene": "movie"}, {"target": 19, "mode": "heat"}, OFF, True)
# leaving for work: everything neutral (brightness 0 and mode off are neutral, music {} too)
request("leave-1", "leaving for work", {"brightness": 0, "scene": "night"}, {"mode": "off", "target": 16}, OFF, True)
# party time: an exported and an unexported call; lights answered in upper case enum
request(
    "party-1",
    "party time",
    {"brightness": 100, "scene": "PARTY", "colour_temperature": 5000},
    {"mode": "cool", "target": 19.74},
    {"genre": "dance", "volume": 80},
    True,
)
request(
    "party-2",
    "party time",
    {"brightness": 90, "scene": "party"},
    {"mode": "cool", "target": 20},
    {"genre": "pop", "volume": 70},
    False,
)

# --- more traffic: scenarios with paraphrases, a few requests each, seeded -------------------------------------------
SCENARIOS = [
    (
        ["reading a book", "time to read", "read in bed", "study session"],
        {"brightness": 80, "colour_temperature": 4000, "scene": "reading"},
        {"target": 21, "mode": "heat"},
        {"genre": "classical", "volume": 15},
    ),
    (
        ["romantic dinner", "candle light dinner", "date night at home"],
        {"brightness": 20, "colour_temperature": 2200, "scene": "relax"},
        {"target": 22, "mode": "heat"},
        {"genre": "jazz", "volume": 20},
    ),
    (["hot summer afternoon", "it is too hot", "cool the house down"], {}, {"target": 19, "mode": "cool"}, OFF),
    (["freezing outside", "it is too cold", "warm the house up"], {}, {"target": 23, "mode": "heat"}, OFF),
    (
        ["workout", "gym session at home", "morning exercise"],
        {"brightness": 100, "colour_temperature": 6000},
        {"target": 18, "mode": "cool"},
        {"genre": "rock", "volume": 75},
    ),
    (
        ["meditation", "calm down", "yoga practice"],
        {"brightness": 15, "colour_temperature": 2400, "scene": "relax"},
        {"target": 22, "mode": "auto"},
        {"genre": "ambient", "volume": 20},
    ),
    (
        ["good night", "going to sleep", "bed time"],
        {"brightness": 5, "colour_temperature": 2000, "scene": "night"},
        {"target": 18, "mode": "auto"},
        OFF,
    ),
    (
        ["dinner party", "friends coming over", "house party"],
        {"brightness": 70, "colour_temperature": 3000, "scene": "party"},
        {"target": 21, "mode": "auto"},
        {"genre": "pop", "volume": 50},
    ),
    (
        ["wake up", "good morning", "start the day"],
        {"brightness": 60, "colour_temperature": 5000},
        {"target": 21, "mode": "heat"},
        {"genre": "pop", "volume": 30},
    ),
    (
        ["focus on work", "working from home", "deep work"],
        {"brightness": 85, "colour_temperature": 5000, "scene": "reading"},
        {"target": 21, "mode": "auto"},
        OFF,
    ),
]
rng = random.Random(7)
for s_index, (phrases, lights, thermostat, music) in enumerate(SCENARIOS):
    for p_index, phrase in enumerate(phrases):
        for r in range(rng.randint(2, 4)):
            rid = f"s{s_index}-{p_index}-{r}"
            if r == 0 or rng.random() < 0.6:  # the scenario's answer, usually exported
                request(
                    rid, phrase, lights, thermostat, music, rng.random() < 0.8, ts=f"2024-05-{10 + r:02d}T08:00:00Z"
                )
            else:  # a worse answer, rarely exported
                worse_lights = {**lights, "brightness": min(100, lights.get("brightness", 0) + 30)} if lights else {}
                request(
                    rid,
                    phrase,
                    worse_lights,
                    {**thermostat, "target": 25},
                    music,
                    rng.random() < 0.2,
                    ts=f"2024-05-{10 + r:02d}T09:00:00Z",
                )

# --- an intent nobody exported, and one that misses a tool ---------------------------------------------------
request("never-1", "disco inferno", {"brightness": 100, "scene": "party"}, {"mode": "off"}, {"genre": "dance"}, False)
call("half-1", "lights only please", "set_lights", 'JSON: {"brightness": 50}', True)
call("half-1", "lights only please", "set_thermostat", "JSON: {", True)  # invalid: the intent lacks a valid thermostat

# --- one of each defect ---------------------------------------------------------------------------------------
lines.append("{this is not json")  # bad_record
lines.append(
    json.dumps(
        {
            "event_id": "m1",
            "request_id": "m1",
            "ts": "2024-05-02T19:30:00Z",
            "intent": "movie night",
            "tool": "set_lights",
            "exported": True,
        }
    )
)  # missing_field (no response)
lines.append(
    json.dumps(
        {
            "event_id": "t1",
            "request_id": "t1",
            "ts": "2024-05-02T19:30:00Z",
            "intent": "movie night",
            "tool": "set_lights",
            "response": 'JSON: {"brightness": 10}',
            "exported": "yes",
        }
    )
)  # bad_type
call("dup-1", "movie night", "set_lights", 'JSON: {"brightness": 99}', True, event="e0001")  # duplicate_event
call("u-1", "movie night", "set_blinds", 'JSON: {"open": true}', True)  # unknown_tool
call("empty-1", "   ", "set_lights", 'JSON: {"brightness": 10}', True)  # empty_intent
call("long-1", "lights " * 40, "set_lights", 'JSON: {"brightness": 10}', True)  # intent_too_long
call("nojson-1", "movie night", "set_lights", "I would dim the lights a little.", True)  # no_json
call("bad-1", "movie night", "play_music", 'JSON: {"genre": "jazz", "volume": 20,}', True)  # invalid_json
call("range-1", "movie night", "set_lights", 'JSON: {"brightness": 150}', True)  # schema_violation: range
call("enum-1", "movie night", "set_lights", 'JSON: {"brightness": 10, "scene": "disco"}', True)  # not an enum value
call("key-1", "movie night", "play_music", 'JSON: {"genre": "jazz", "loudness": 3}', True)  # unknown key
call("req-1", "movie night", "play_music", 'JSON: {"volume": 30}', True)  # required genre missing
call("int-1", "movie night", "set_lights", 'JSON: {"brightness": 10.5}', True)  # integer expected

OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
print(f"wrote {len(lines)} lines to {OUT}")
