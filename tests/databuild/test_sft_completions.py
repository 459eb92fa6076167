"""SFT completions looked up from the ones already made (a snapshot's carried rows) equal those made afresh."""

from __future__ import annotations

import polars as pl

from databuild.contracts import build_sft, completions_frame, known_completions
from databuild.pack import colour_pack

ROWS = pl.DataFrame(
    {
        "intent": ["amber", "blue", "coral"],
        "adjust": ['{"contrast":12,"exposure":0}', '{"exposure":0,"contrast":3}', None],
        "selective_adjust": ['{"red":{"saturation":5}}', '{"red":{"saturation":5}}', '{"red":{"saturation":0}}'],
        "filter": ['{"name":"warm","strength":50}', '{"name":"none","strength":0}', '{"name":"warm","strength":50}'],
        "split": ["train", "train", "test"],
    }
)


def test_a_known_completion_is_looked_up_and_the_others_are_made() -> None:
    known = {"adjust": pl.DataFrame({"canonical": ['{"contrast":12,"exposure":0}'], "completion": ["looked up"]})}
    made = completions_frame(ROWS, colour_pack(), known)
    # by hand: the default-valued key goes, its comma with it; a null canonical has no completion
    assert made["adjust"].to_list() == ["looked up", 'Parameters: {"contrast":3}', None]
    # a tool with nothing known: every completion made, as without `known`
    assert made.drop("adjust").equals(completions_frame(ROWS, colour_pack()).drop("adjust"))


def test_known_completions_hold_each_distinct_output_once() -> None:
    known = known_completions(ROWS, colour_pack())
    assert known["adjust"].sort("canonical").rows() == [
        ('{"contrast":12,"exposure":0}', 'Parameters: {"contrast":12}'),
        ('{"exposure":0,"contrast":3}', 'Parameters: {"contrast":3}'),
    ]
    assert known["filter"].height == 2  # two distinct outputs of three rows
    assert known["filter"].sort("canonical").rows()[1] == (
        '{"name":"warm","strength":50}',
        'Parameters: {"name":"warm","strength":50}',  # the filter is written whole
    )


def test_the_sft_built_with_known_completions_is_the_same() -> None:
    pack = colour_pack()
    assert build_sft(ROWS, pack, known_completions(ROWS.head(2), pack)).equals(build_sft(ROWS, pack))
