"""Epoch selection: the best `overall` score among the last `select_last` epochs, ties going to the later epoch.

Epochs are numbered from 1. An epoch without a score (no test intents to evaluate) ranks below every scored one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _rank(score: float | None) -> float:
    return -math.inf if score is None or math.isnan(score) else score


def selection_window(total_epochs: int, select_last: int) -> range:
    """The epochs that can be selected: the last `select_last` (all of them when there are fewer)."""
    return range(max(1, total_epochs - select_last + 1), total_epochs + 1)


def select_epoch(overall_by_epoch: Sequence[float | None], select_last: int) -> int:
    """The selected epoch (1-based) of a finished run whose epoch `i + 1` scored `overall_by_epoch[i]`."""
    if not overall_by_epoch:
        raise ValueError("no epochs to select from")
    if select_last < 1:
        raise ValueError("select_last must be at least 1")
    best = None
    for epoch in selection_window(len(overall_by_epoch), select_last):
        if best is None or _rank(overall_by_epoch[epoch - 1]) >= _rank(overall_by_epoch[best - 1]):
            best = epoch  # `>=`: a tie goes to the later epoch
    assert best is not None
    return best


def checkpoints_to_keep(overall_so_far: Sequence[float | None], total_epochs: int, select_last: int) -> set[int]:
    """Epoch checkpoints worth keeping while a run is under way (or after it ends).

    The last finished epoch (to resume from) and the best so far inside the selection window: an epoch before the
    window can never be selected, and one beaten inside the window never will be again.
    """
    done = len(overall_so_far)
    if done == 0:
        return set()
    keep = {done}
    window = [e for e in selection_window(total_epochs, select_last) if e <= done]
    if window:
        best = window[0]
        for epoch in window:
            if _rank(overall_so_far[epoch - 1]) >= _rank(overall_so_far[best - 1]):
                best = epoch
        keep.add(best)
    return keep
