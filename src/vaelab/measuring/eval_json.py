"""What an eval.json must hold for vaelab to read it back: every field of its kind, checked
before any is used, so that a file damaged or edited by hand is refused in one line that
names the field, not by an error deep in a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaelab.config import RunConfig
from vaelab.errors import VaelabError

NUMBER = (int, float)
KINDS = {str: "text", int: "a whole number", dict: "a mapping", NUMBER: "a number"}
FIELDS: dict[str, tuple[Any, bool]] = {  # name: (kind, whether null may stand for it)
    "run": (str, False), "model": (str, False), "latent_dims": (int, False),
    "epochs": (int, False), "split": (str, False), "images": (int, False),
    "k": (int, True), "samples": (int, False), "seed": (int, False),
    "likelihood": (dict, False), "classifier": (dict, True), "metrics": (dict, False),
    "seconds": (dict, False), "title": (str, False), "caveats": (dict, False),
    "chunk": (int, True), "config": (dict, True),
}
OLDER = {"seconds", "title", "caveats", "chunk", "config"}  # fields older evaluations lack
MEASURE_AGAIN = "; run vaelab eval again"  # the end of every error of an eval.json


def check_eval(raw: Any, source: str) -> None:
    """Raise VaelabError, naming ``source`` and the first field that is missing or not of
    its kind, unless ``raw`` holds a scorecard as vaelab writes it (its format aside)."""
    def wrong(field: str, what: str) -> VaelabError:  # a key with a line break, quoted
        shown = field if field.isprintable() else repr(field)
        return VaelabError(f"{source}: {shown} {what}{MEASURE_AGAIN}")

    if not isinstance(raw, dict):
        raise wrong("the file", "holds no mapping of fields")
    unknown = sorted(set(raw) - set(FIELDS) - {"format"})
    if unknown:
        raise wrong(repr(unknown[0]), "is not a field of an evaluation")
    for name, (kind, nullable) in FIELDS.items():
        if name not in raw and name not in OLDER:
            raise wrong(name, "is missing")
        if name in raw and not (_is(raw[name], kind) or (nullable and raw[name] is None)):
            raise wrong(name, f"is not {KINDS[kind]}")
    _entries(raw["likelihood"], {"name": str, "description": str}, "likelihood", wrong)
    if raw["classifier"] is not None:
        _entries(raw["classifier"], {"test_accuracy": NUMBER}, "classifier", wrong)
    for key, value in raw.get("seconds", {}).items():
        if not _is(value, NUMBER):
            raise wrong(f"seconds.{key}", "is not a number")
    for key, value in raw.get("caveats", {}).items():
        if not _is(value, str):
            raise wrong(f"caveats.{key}", "is not text")
    for key, score in raw["metrics"].items():
        if not (isinstance(score, dict) and "value" in score
                and set(score) <= {"value", "error", "note"}):
            raise wrong(f"metrics.{key}", "is not a score (value, error, note)")
        for part in ("value", "error"):
            if not (score.get(part) is None or _is(score[part], NUMBER)):
                raise wrong(f"metrics.{key}.{part}", "is not a number")
        if not _is(score.get("note", ""), str):
            raise wrong(f"metrics.{key}.note", "is not text")


def _entries(raw: dict, kinds: dict[str, Any], name: str, wrong) -> None:
    for key, kind in kinds.items():
        if not _is(raw.get(key), kind):
            raise wrong(f"{name}.{key}", f"is not {KINDS[kind]}")


def _is(value: Any, kind: Any) -> bool:
    """Whether ``value`` is of ``kind``; true and false are not numbers here."""
    return isinstance(value, kind) and not isinstance(value, bool)


def named_now(raw: Any, folder: Path) -> Any:
    """An eval.json with its images and likelihood named as vaelab names them now: colour
    images measured as they are 'colour' (vaelab once called all such images 'grey'), and an
    older file's likelihood (one that keeps no config) as the run's config.json names it
    (summed squared error was 'gaussian' before that name went to the Gaussian of learned
    σ). Anything else as it is."""
    if not isinstance(raw, dict) or not isinstance(raw.get("likelihood"), dict):
        return raw
    likelihood, config = raw["likelihood"], raw.get("config")
    if isinstance(config, dict):
        data = config.get("data")
        shape = data.get("image_shape") if isinstance(data, dict) else None
    else:
        try:
            run = RunConfig.load(folder)
        except VaelabError:  # the run's own loading says what is wrong with it
            return raw
        likelihood, shape = likelihood | {"name": run.model.likelihood}, run.data.image_shape
    images, colour = likelihood.get("images"), isinstance(shape, list | tuple) and list(
        shape[:1]) == [3]
    if colour and isinstance(images, str) and images.startswith("grey"):
        likelihood = likelihood | {"images": "colour" + images.removeprefix("grey")}
    return raw | {"likelihood": likelihood}
