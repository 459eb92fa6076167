"""The shared progress rule (`databuild/progress.py`): a redrawn bar on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import io

from databuild.progress import Progress, duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_duration() -> None:
    assert [duration(s) for s in (0, 59.4, 59.6, 125, 3600, 3725)] == [
        "0:00",
        "0:59",
        "1:00",
        "2:05",
        "1:00:00",
        "1:02:05",
    ]


def test_plain_lines_every_interval_and_a_final_line() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = Progress("evaluating", total=100, stream=stream, interactive=False, interval=10, clock=clock)
    with progress:
        clock.now += 5
        progress.update(10)  # 5 s after the start: too soon for a line
        clock.now += 7
        progress.update(30)  # 12 s: 30 intents / 12 s = 2.5/s, 70 left -> 28 s
        clock.now += 3
        progress.advance(10)  # 3 s after the last line: too soon
        clock.now += 25
        progress.update(100)  # 40 s: 100 / 40 = 2.5/s
    assert stream.getvalue().splitlines() == [
        "evaluating: 30/100 intents (30%), 2.5 intents/s, ETA 0:28",
        "evaluating: 100/100 intents (100%), 2.5 intents/s, ETA 0:00",
        "evaluating: 100/100 intents in 0:40 (2.5 intents/s)",
    ]


def test_short_work_writes_only_the_final_line() -> None:
    clock, stream = Clock(), io.StringIO()
    with Progress("predicting v1/test", total=3, stream=stream, interactive=False, clock=clock) as progress:
        clock.now += 2
        progress.update(3)
        progress.close()  # closing twice writes nothing more
    assert stream.getvalue() == "predicting v1/test: 3/3 intents in 0:02 (1.5 intents/s)\n"


def test_a_terminal_gets_one_line_redrawn_in_place() -> None:
    clock, stream = Clock(), io.StringIO()
    with Progress("eval", total=8, stream=stream, interactive=True, clock=clock) as progress:
        clock.now += 0.05
        progress.update(1)  # within the redraw interval: not drawn
        clock.now += 1.95
        progress.update(2)  # 2 s: 1 intent/s, 6 left
    drawn = stream.getvalue()
    assert drawn.count("\n") == 1 and drawn.endswith("\n")  # one terminal line in the end
    frames = drawn.rstrip("\n").split("\r\x1b[K")[1:]
    assert frames == [
        "eval [........................] 0/8 intents (0%), 0.0 intents/s, ETA ?",
        "eval [######..................] 2/8 intents (25%), 1.0 intents/s, ETA 0:06",
        "eval: 2/8 intents in 0:02 (1.0 intents/s)",
    ]


def test_stderr_that_is_not_a_terminal_is_detected() -> None:
    assert Progress("x", total=1, stream=io.StringIO()).interactive is False


def test_a_note_follows_the_counts_and_a_disabled_progress_writes_nothing() -> None:
    clock, stream = Clock(), io.StringIO()
    with Progress("epoch 1/3", total=4, unit="steps", stream=stream, interactive=False, interval=1, clock=clock) as bar:
        clock.now += 1
        bar.update(1, note="loss 2.5000")  # 1 step/s, 3 left
        clock.now += 1
        bar.update(4, note="loss 2.0000")  # 2 steps/s
    assert stream.getvalue().splitlines() == [
        "epoch 1/3: 1/4 steps (25%), 1.0 steps/s, ETA 0:03, loss 2.5000",
        "epoch 1/3: 4/4 steps (100%), 2.0 steps/s, ETA 0:00, loss 2.0000",
        "epoch 1/3: 4/4 steps in 0:02 (2.0 steps/s), loss 2.0000",
    ]
    silent = io.StringIO()
    with Progress("x", total=2, stream=silent, interactive=True, enabled=False) as progress:
        progress.update(2)
    assert silent.getvalue() == ""
