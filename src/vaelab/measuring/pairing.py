"""What a scorecard's run is of, as far as the config its eval.json keeps says (an older
one, or one edited by hand, says nothing), and why two runs' bounds do not pair image by
image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vaelab.config import DataConfig, RunConfig
from vaelab.data import DATASETS
from vaelab.errors import VaelabError
from vaelab.errors import named as spelt
from vaelab.measuring.caveats import conditional, training_images
from vaelab.measuring.scorecard import Scorecard


def card_config(card: Scorecard) -> RunConfig | None:
    """The settings of the run a card measured, where its eval.json keeps them (an older one,
    or one edited by hand: None)."""
    if not card.config:
        return None
    try:
        return RunConfig.from_dict(card.config, card.run)
    except VaelabError:
        return None


def why_unpaired(card: Scorecard, base: Scorecard, key: str, drawn: str) -> str:
    """Why ``card``'s bound ``key`` is not paired with ``base``'s, or "" where it is."""
    if key not in card.per_image:
        return ("it has no such bound" if card[key].value is None else
                "its per-image bounds were not kept (vaelab eval of the run writes them)")
    def density(card: Scorecard) -> str:  # the squared error's and a learned Gaussian's: alike
        return "gaussian" if card.likelihood["name"] == "sse" else card.likelihood["name"]

    def images(card: Scorecard) -> tuple[Any, ...]:
        return card.images, card.likelihood.get("images"), images_key(card)

    unrecorded = [card.likelihood.get("images"), base.likelihood.get("images")].count(None) == 1
    checks = (("split", card.split, base.split), ("set of images", images(card), images(base)),
              ("likelihood", density(card), density(base)),
              ("kind of model (p(x|y) against p(x))", conditional(card), conditional(base)),
              ("k" if drawn == "k" else "number of draws", getattr(card, drawn),
               getattr(base, drawn)))
    differ = [what for what, mine, theirs in checks if mine != theirs]
    if differ == ["set of images"] and unrecorded:  # an older eval.json does not say which
        return ("one of them measured by an older vaelab, which did not record which images "
                "(vaelab eval of that run measures it again)")
    return f"measured with another {' and '.join(differ)}" if differ else ""


def images_key(card: Scorecard) -> tuple[Any, ...] | None:
    """Which images a card's run is of, as far as its config says (an older card: None)."""
    if (config := card_config(card)) is None:
        return None
    data = config.data  # the fingerprint names them wherever they were found (a folder copied)
    return (data.fingerprint,) if data.fingerprint else (data.dataset, data.image_size,
                                                         data.test_fraction)


def images_of(card: Scorecard) -> str | None:
    """The fingerprint of the images a card's run is of (both splits), where its config
    keeps one."""
    return None if (config := card_config(card)) is None else config.data.fingerprint


def learnt_from(card: Scorecard) -> str | None:
    """Which training images the card's run learnt from, where its config says."""
    return None if (config := card_config(card)) is None else training_images(config)


def check_same_test_images(named: Sequence[tuple[str, DataConfig]]) -> None:
    """Refuse, in one line that names them, runs (``named`` by their folders) on different
    datasets, or whose images differ in size or in their test split: their figures would not
    be of the same images. Runs that recorded one fingerprint learnt from the same images,
    wherever each found them (a folder copied or moved)."""
    if len({data.fingerprint for _, data in named}) == 1 and named[0][1].fingerprint:
        return
    datasets = sorted({data.dataset for _, data in named})
    if len(datasets) > 1:
        raise VaelabError(f"these runs are on different datasets ({', '.join(datasets)}); "
                          f"compare runs on one")
    for other, b in named[1:]:
        first, a = named[0]
        settings = [(spelt("--image-size", "image_size"), a.image_size, b.image_size)]
        if a.dataset not in DATASETS:  # a registered dataset has its own test split
            settings += [(spelt("--test-fraction", "test_fraction"), a.test_fraction,
                          b.test_fraction),
                         (spelt("--split-seed", "split_seed"), a.split_seed, b.split_seed)]
        differ = [f"{flag} {'unset' if x is None else x} and {'unset' if y is None else y}"
                  for flag, x, y in settings if x != y]
        if a.dataset not in DATASETS and a.split_by_order != b.split_by_order:
            drawn = ("over the images' order (as vaelab drew them up to config format 6)",
                     "by each image's hash")
            differ.append(f"test images drawn {drawn[not a.split_by_order]} and "
                          f"{drawn[not b.split_by_order]}")
        if differ:
            raise VaelabError(f"{first} and {other} were trained with {', '.join(differ)}: "
                              f"their test images differ, so their figures do not compare; "
                              f"compare runs trained with the same settings")
