"""The formats of config.json that vaelab has written, and how an older one is read today.

1 kept the likelihood as train.loss; 2 took the first --train-subset images; 3 had no
train.adam_eps (Adam's default, 1e-8); 4 no train.output_bias ('default'); up to 5 the ELBO
took one draw per image whatever train.k said; up to 6 the test images of data without a
test set were drawn over the images' order, and there was no data.notes. A new setting makes
a new format: a run's config.json of today's format holds every setting (``check_whole``).
"""

from __future__ import annotations

from typing import Any

from vaelab.errors import SettingsFileError

CONFIG_FORMAT = 7
READABLE = (1, 2, 3, 4, 5, 6, CONFIG_FORMAT)


def upgrade(raw: dict[str, Any], version: int) -> dict[str, Any]:
    """The settings ``raw`` of a config of format ``version``, as today's format says them.
    Sections that are not mappings are left for the loader to refuse by name."""
    if any(not isinstance(raw.get(name, {}), dict) for name in ("model", "data", "train")):
        return raw
    if version == 1:
        raw = _from_format_1(raw)
    if version in (1, 2):
        raw = _from_format_2(raw)
    if version < 6:
        raw = _from_format_5(raw)
    if version < 7:
        raw = {**raw, "data": {**raw.get("data", {}), "split_by_order": True}}
    return raw


def _from_format_1(raw: dict[str, Any]) -> dict[str, Any]:
    """Format 1 kept the likelihood as train.loss; it is model.likelihood now."""
    train = dict(raw.get("train") or {})
    model = dict(raw.get("model") or {})
    if "loss" in train:
        model["likelihood"] = train.pop("loss")
    return {**raw, "model": model, "train": train}


def _from_format_2(raw: dict[str, Any]) -> dict[str, Any]:
    """Formats 1 and 2 trained on the first --train-subset images; later ones draw them."""
    data = dict(raw.get("data") or {})
    if data.get("train_subset") is not None:
        data["train_subset_first"] = True
    return {**raw, "data": data}


def _from_format_5(raw: dict[str, Any]) -> dict[str, Any]:
    """Up to format 5 the ELBO took one draw per image, and train.k, written as 5 unless
    asked otherwise, counted the IWAE bound's draws only: an ELBO's k, and the default, are
    dropped, so that a run's settings carried to another objective keep its default."""
    train = raw.get("train", {})
    if train.get("objective", "elbo") == "elbo" or train.get("k") == 5:
        return {**raw, "train": {key: v for key, v in train.items() if key != "k"}}
    return raw


def check_whole(source: str, name: str, section: dict[str, Any], known: set[str]) -> None:
    """That a run's config.json of today's format holds every setting of its section
    ``name``, as vaelab wrote it: one that lost a line would resume the run with a default in
    its place (a batch of 128 where it trained with 32), and be written back so."""
    missing = sorted(known - set(section))
    if missing:
        what = f"no '{name}' section" if not section else f"no setting {name}.{missing[0]}"
        raise SettingsFileError(f"{source}: {what}, which vaelab writes into every run's "
                                f"config.json; mend the file, or put a copy of it back")
