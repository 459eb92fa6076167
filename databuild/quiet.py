"""Keep stderr for databuild's own progress and errors while ML libraries load."""

from __future__ import annotations

import logging


def quiet_libraries() -> None:
    """bitsandbytes warns at import on CPUs without an optional kernel package (the CPU path still works), and
    transformers draws a bar for every tiny load and save; neither tells the user anything."""
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
