"""A run's saved evaluation as vaelab's pages and tables show it: with the notes on its
figures that vaelab puts on them today, which an eval.json of an older vaelab lacks."""

from __future__ import annotations

import logging
from pathlib import Path

from vaelab.errors import VaelabError
from vaelab.measuring import scorecard
from vaelab.measuring.caveats import with_caveats
from vaelab.measuring.scorecard import Scorecard
from vaelab.training.runs import Run, load_run

log = logging.getLogger("vaelab")


def load_scorecard(path: Run | str | Path, split: str = "test", *, warn_outdated: bool = True
                   ) -> Scorecard | None:
    """A run folder's saved evaluation of ``split`` (its eval.json), or None if not measured,
    with the notes that the run's page puts on its figures: an older file's are added from
    the run's model and settings. Where the run has trained on since it was measured, a
    warning says so unless ``warn_outdated`` is off."""
    card = scorecard.load_scorecard(path, split, warn_outdated=warn_outdated)
    if card is None:
        return None
    try:
        run = path if isinstance(path, Run) else load_run(path)
    except VaelabError as err:  # its weights damaged, say: the figures as they were saved
        if card.config is None or not card.caveats:  # an older file: with fewer notes
            log.warning("%s; its evaluation is given without the notes that vaelab adds to "
                        "an older one's figures", err)
        return card
    return with_caveats(card, run.model, run.config)
