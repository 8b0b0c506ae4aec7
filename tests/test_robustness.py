"""Bad files never get past vaelab's own error: any bytes given as an IDX file, any JSON given as
a config, any damage to a run folder either loads or raises ``VaelabError`` (one line, naming
the file), never another exception, and never hangs. And nothing is ever unpickled."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pickle
import struct
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vaelab.config import RunConfig
from vaelab.data import read_idx
from vaelab.errors import VaelabError
from vaelab.training.runs import load_run

FUZZ = settings(max_examples=150, deadline=2000,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line(error: VaelabError) -> None:
    assert "\n" not in str(error) and str(error)


# ---------------------------------------------------------------------------------------------
# The IDX reader.


def _idx_like() -> st.SearchStrategy[bytes]:
    """Bytes that are often nearly IDX: a plausible header with wrong counts or types, or
    noise."""
    header = st.builds(
        lambda kind, dims, sizes, body: bytes([0, 0, kind, dims])
        + b"".join(struct.pack(">I", n) for n in sizes) + body,
        st.sampled_from([0x08, 0x09, 0x0D, 0x08]), st.integers(0, 4),
        st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), max_size=4),
        st.binary(max_size=64))
    return header | st.binary(max_size=200)


@FUZZ
@given(raw=_idx_like(), compressed=st.booleans())
@example(raw=b"\x00\x00\x08\x04" + bytes(4) + b"\x00 \x00\x00" * 3,  # 0 x 2^21 x 2^21 x 2^21
         compressed=False)
def test_any_bytes_as_an_idx_file_load_or_raise_vaelabs_error(tmp_path_factory, raw,
                                                              compressed):
    folder = tmp_path_factory.mktemp("idx")
    path = folder / ("f.idx.gz" if compressed else "f.idx")
    path.write_bytes(gzip.compress(raw) if compressed and raw[:1] != b"\x1f" else raw)
    try:
        images = read_idx(path)
    except VaelabError as err:
        _one_line(err)
    else:
        assert images.dtype == torch.uint8


def test_a_gzip_file_that_is_cut_short_is_named(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4]))[:-6])
    with pytest.raises(VaelabError, match=r"t\.gz"):
        read_idx(path)


# ---------------------------------------------------------------------------------------------
# The config loader.

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**20) | st.integers(0, 5)
    | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12)

_KEYS = {"model": ["model", "arch", "latent_dims", "hidden_dims", "channels", "activation",
                   "likelihood"],
         "data": ["dataset", "train_subset", "binarize", "binarize_seed"],
         "train": ["epochs", "batch_size", "lr", "seed", "kl", "beta", "kl_warmup", "objective",
                   "k", "lr_schedule", "noise", "loss"]}


def _config_like() -> st.SearchStrategy[object]:
    """Mostly real sections and keys with odd values, sometimes anything at all."""
    section = st.sampled_from(list(_KEYS)).flatmap(lambda name: st.tuples(
        st.just(name), st.dictionaries(st.sampled_from(_KEYS[name]), _JSON, max_size=4)))
    sections = st.lists(section, max_size=3).map(dict)
    with_format = st.builds(lambda raw, version: {**raw, "format": version}, sections,
                            st.sampled_from([1, 2, 3, 5, "2", None]))
    return sections | with_format | _JSON


@settings(FUZZ, max_examples=500)
@given(raw=_config_like())
@example(raw={"model": {"latent\ndims": 2}})  # an unknown key with a line break, quoted
def test_any_json_as_a_config_loads_or_raises_vaelabs_error(raw):
    try:
        config = RunConfig.from_dict(raw, source="runs/x/config.json")
    except VaelabError as err:
        _one_line(err)
        assert "config.json" in str(err)
    else:
        assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


# ---------------------------------------------------------------------------------------------
# The run folder.


@pytest.fixture(scope="module")
def run_folder(tiny, tmp_path_factory) -> Path:
    from vaelab.config import DataConfig, ModelConfig, TrainConfig
    from vaelab.training.loop import train

    config = RunConfig(ModelConfig("vae", 2, (32,)), DataConfig(train_subset=64),
                       TrainConfig(epochs=1))
    return train(config, tmp_path_factory.mktemp("runs") / "run", data=tiny,
                 progress=False).path


_FILES = ["config.json", "model.safetensors", "metrics.jsonl", "checkpoint.safetensors"]


@FUZZ
@given(name=st.sampled_from(_FILES), cut=st.integers(0, 10**6), noise=st.binary(max_size=40),
       mode=st.sampled_from(["truncate", "overwrite", "splice", "delete"]))
def test_a_damaged_run_folder_loads_or_raises_vaelabs_error(run_folder, tmp_path_factory, name,
                                                            cut, noise, mode):
    import shutil

    folder = tmp_path_factory.mktemp("damaged") / "run"
    shutil.copytree(run_folder, folder)
    path = folder / name
    raw = path.read_bytes()
    at = cut % (len(raw) + 1)
    if mode == "delete":
        path.unlink()
    else:
        path.write_bytes({"truncate": raw[:at], "overwrite": noise,
                          "splice": raw[:at] + noise + raw[at + len(noise):]}[mode])
    try:
        run = load_run(folder)
    except VaelabError as err:
        _one_line(err)
    else:
        assert run.model.latent_dims == 2


@pytest.mark.parametrize("name", ["model.safetensors", "checkpoint.safetensors"])
def test_a_pickle_given_as_weights_is_refused_unread(run_folder, tmp_path, name):
    """A pickle runs code when it is loaded; vaelab reads safetensors only, so it must refuse
    the file without running any of it."""
    import shutil

    from vaelab.training.loop import resume

    marker = tmp_path / "pwned"
    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (folder / name).write_bytes(pickle.dumps(Payload()))
    torch.save({"weights": Payload()}, tmp_path / "also.pt")  # the torch.save format too
    with pytest.raises(VaelabError) as info:
        if name == "model.safetensors":
            load_run(folder)
        else:
            resume(folder, epochs=2, data=None, progress=False)
    _one_line(info.value)
    assert "a pickle (the torch.save format), which vaelab does not open" in str(info.value)
    (folder / name).write_bytes((tmp_path / "also.pt").read_bytes())
    with pytest.raises(VaelabError, match="a pickle") as info:
        load_run(folder) if name == "model.safetensors" else resume(folder, epochs=2)
    _one_line(info.value)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# The saved evaluation (eval.json) and metrics.jsonl.


def _scorecard() -> dict:
    from vaelab.measuring.scorecard import Score, Scorecard

    return Scorecard("runs/vae", "vae", 2, 3, "test", 100, 5, 2, 0,
                     {"name": "sse", "description": "summed squared error"},
                     {"dataset": "mnist", "test_accuracy": 0.99},
                     {"nll": Score(30.5, 0.1), "knn": Score(None, note="no labels")},
                     {"likelihood": 1.5}, "VAE", {"nll": "a note"}).to_dict()


def _changed(raw: dict, where: str, value: object) -> dict:
    raw = json.loads(json.dumps(raw))
    *path, last = where.split(".")
    inner = raw
    for key in path:
        inner = inner[key]
    inner[last] = value
    return raw


@pytest.mark.parametrize(("where", "value", "said"), [
    ("metrics", [1, 2], "metrics is not a mapping"),
    ("caveats", 7, "caveats is not a mapping"),
    ("classifier", [1], "classifier is not a mapping"),
    ("classifier.test_accuracy", "high", "classifier.test_accuracy is not a number"),
    ("samples", 1.5, "samples is not a whole number"),
    ("k", True, "k is not a whole number"),
    ("chunk", "2048", "chunk is not a whole number"),
    ("zzz", 1, "'zzz' is not a field of an evaluation"),
    ("metrics.nll.value", "abc", "metrics.nll.value is not a number"),
    ("metrics.nll", 4, "metrics.nll is not a score (value, error, note)"),
    ("likelihood.description", None, "likelihood.description is not text"),
    ("seconds.likelihood", "1 s", "seconds.likelihood is not a number"),
])
def test_an_eval_json_edited_by_hand_is_one_line_that_names_the_field(tmp_path, where, value,
                                                                      said):
    """Each was an AttributeError or a TypeError from deep in compare's table."""
    # read back as it was written, named by the folder it is in now
    assert load_scorecard_of(tmp_path, _scorecard()).to_dict() == {**_scorecard(),
                                                                   "run": str(tmp_path)}
    with pytest.raises(VaelabError) as info:
        load_scorecard_of(tmp_path, _changed(_scorecard(), where, value))
    assert str(info.value) == f"{tmp_path / 'eval.json'}: {said}; run vaelab eval again"


def load_scorecard_of(folder: Path, raw: object):
    from vaelab.measuring.scorecard import load_scorecard

    (folder / "eval.json").write_text(json.dumps(raw))
    return load_scorecard(folder)


@pytest.mark.parametrize(("content", "said"), [
    (b"\x93\xff" * 100, "not text"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON (nested too deeply)"),
    (b'{"format": 1,', "not valid JSON (Expecting property name enclosed in double quotes: "
                       "line 1, column 14)"),
    (b" " * (17 << 20), "over 16,777,216 bytes, more than vaelab ever writes there"),
])
def test_an_eval_json_that_is_not_one_is_one_line(tmp_path, content, said):
    from vaelab.measuring.scorecard import load_scorecard

    (tmp_path / "eval.json").write_bytes(content)
    with pytest.raises(VaelabError) as info:
        load_scorecard(tmp_path)
    assert str(info.value) == f"{tmp_path / 'eval.json'}: {said}; run vaelab eval again"


@settings(FUZZ, max_examples=300)
@given(changes=st.lists(st.tuples(st.sampled_from(
    ["run", "model", "latent_dims", "epochs", "split", "images", "k", "samples", "seed",
     "likelihood", "classifier", "metrics", "seconds", "title", "caveats", "chunk",
     "metrics.nll",
     "metrics.nll.value", "metrics.nll.error", "metrics.nll.note", "likelihood.name",
     "classifier.test_accuracy", "seconds.likelihood", "caveats.nll", "other"]), _JSON),
    min_size=1, max_size=3))
@example(changes=[("metrics", {"\n": None})])  # a key with a line break: named on one line
def test_any_change_to_an_eval_json_reads_or_raises_vaelabs_error(changes):
    """And what reads is a scorecard that its table can show."""
    from vaelab.measuring.scorecard import Scorecard

    raw = _scorecard()
    for where, value in changes:
        with contextlib.suppress(TypeError, KeyError, IndexError):  # what holds it is gone
            raw = _changed(raw, where, value)
    try:
        card = Scorecard.from_dict(raw, "runs/vae/eval.json")
    except VaelabError as err:
        _one_line(err)
        assert "runs/vae/eval.json" in str(err)
    else:
        assert card.table()


@pytest.mark.parametrize("record", [
    {"epoch": 1},
    {"epoch": 0, "train": {"loss": 1, "recon": 1, "kl": None},
     "test": {"loss": 1, "recon": 1, "kl": None}, "train_seconds": 1.0},
    {"epoch": 1, "train": {"loss": "x", "recon": 1, "kl": 1},
     "test": {"loss": 1, "recon": 1, "kl": 1}, "train_seconds": 1.0},
    {"epoch": 1, "train": {"loss": 1, "recon": 1, "kl": 1},
     "test": {"loss": [1], "recon": 1, "kl": 1}, "train_seconds": 1.0},
    {"epoch": True, "train": {"loss": 1, "recon": 1, "kl": 1},
     "test": {"loss": 1, "recon": 1, "kl": 1}, "train_seconds": 1.0},
    {"epoch": 2, "train": {"loss": 1, "recon": 1, "kl": 1}, "test": {"loss": 1, "recon": 1,
     "kl": 1}, "train_seconds": 1.0, "images": "60000"},  # the counts of the page's table
    {"epoch": 2, "train": {"loss": 1, "recon": 1, "kl": 1}, "test": {"loss": 1, "recon": 1,
     "kl": 1}, "train_seconds": 1.0, "images": {"train": 6.5, "test": 10}},
])
def test_a_metrics_line_that_is_not_an_epochs_record_is_named(run_folder, tmp_path, record,
                                                               caplog):
    """It was a KeyError in plot and explore; the run loads without its loss curves."""
    import shutil

    from vaelab.training.runs import read_metrics

    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    good = (folder / "metrics.jsonl").read_text()
    assert len(read_metrics(folder)) == 1
    (folder / "metrics.jsonl").write_text(good + json.dumps(record) + "\n")
    with pytest.raises(VaelabError, match=r"metrics.jsonl: line 2 is not an epoch's record$"):
        read_metrics(folder)
    assert load_run(folder).metrics == []
    assert "line 2 is not an epoch's record; the loss curves are left out" in caplog.text


def test_a_metrics_file_larger_than_any_run_writes_is_not_read_whole(run_folder, tmp_path,
                                                                       monkeypatch):
    import shutil

    from vaelab.training import runs

    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    monkeypatch.setattr(runs, "MOST_METRICS", 100)  # the record of its one epoch is longer
    with pytest.raises(VaelabError) as info:
        runs.read_metrics(folder)
    assert str(info.value) == (f"{folder / 'metrics.jsonl'}: over 100 bytes, more than vaelab "
                               f"ever writes there; it is not a run's metrics.jsonl")


def _checkpoint_changed(folder: Path, change: str) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = folder / "checkpoint.safetensors"
    tensors = load_file(path)
    with safe_open(path, "pt") as f:
        metadata = f.metadata()
    n = 64  # the run's training images
    if change == "no moment":
        del tensors["optimizer.0.exp_avg"]
    elif change == "moment of another shape":
        tensors["optimizer.0.exp_avg"] = torch.zeros(3, 3)
    elif change == "metrics":
        metadata["metrics"] = json.dumps([{"epoch": 1}])
    else:
        steps = 10**9 if change == "steps" else 0
        metadata["unfinished"] = json.dumps({"epoch": 2, "steps": steps, "seconds": 0.5})
        tensors["epoch.order"] = torch.randperm(n) + (1000 if change == "order" else 0)
        tensors["epoch.totals"] = torch.zeros(1 if change == "sums" else 3)
    save_file(tensors, path, metadata=metadata)


@pytest.mark.parametrize(("change", "why"), [
    ("no moment", "Adam's state does not fit the model"),
    ("moment of another shape", "Adam's state does not fit the model"),
    ("metrics", "its metrics are not epochs' records"),
    ("steps", None),
    ("order", None),
    ("sums", None),
])
def test_a_checkpoint_that_reads_but_holds_the_wrong_things_is_refused(run_folder, tiny,
                                                                        tmp_path, change, why):
    """Each was a traceback from inside Adam or the epoch, a 'diverged' with the advice to
    lower the learning rate, or an epoch that trained nothing; the checkpoint stays as it
    was."""
    import shutil

    from vaelab.training.loop import resume

    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    _checkpoint_changed(folder, change)
    before = (folder / "checkpoint.safetensors").read_bytes()
    with pytest.raises(VaelabError) as info:
        resume(folder, epochs=2, data=tiny, progress=False)
    said = (f"a damaged checkpoint ({why})" if why else "its unfinished epoch does not fit "
            "the run's 64 training images (a damaged checkpoint, or images that changed)")
    assert str(info.value) == (f"{folder / 'checkpoint.safetensors'}: {said}; resume from a "
                               f"copy of the run, or start it again with vaelab.train("
                               f"vaelab.RunConfig.load({str(folder)!r}), "
                               f"{str(folder) + '-2'!r})")  # as Python calls it
    assert (folder / "checkpoint.safetensors").read_bytes() == before


def test_a_config_that_does_not_fit_the_weights_is_named_not_the_weights(run_folder, tmp_path):
    """Where neither the weights nor the checkpoint fit config.json, config.json changed: the
    advice to write the weights again from the checkpoint would lead nowhere."""
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    raw = json.loads((folder / "config.json").read_text())
    raw["model"]["latent_dims"] = 3
    (folder / "config.json").write_text(json.dumps(raw))
    with pytest.raises(VaelabError) as info:
        load_run(folder)
    assert str(info.value) == (f"{folder / 'model.safetensors'}: the weights do not fit the "
                               f"model in config.json, nor do its checkpoint's: config.json is "
                               f"not the one the run wrote; put that back, or train the run "
                               f"again")


def test_a_config_of_a_far_larger_model_is_refused_before_its_weights_are_made(run_folder,
                                                                                tmp_path,
                                                                                monkeypatch):
    """config.json edited to widths of 65,536: vaelab sample made 24 GB of weights for ten
    minutes, then the system ended it for want of memory, without a word."""
    import shutil

    from vaelab.training import runs

    monkeypatch.setattr(runs, "physical_memory", lambda: 64 * 2**30)  # of a quarter of it
    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    raw = json.loads((folder / "config.json").read_text())
    raw["model"]["hidden_dims"] = [65536, 65536]
    (folder / "config.json").write_text(json.dumps(raw))
    held = (folder / "model.safetensors").stat().st_size
    with pytest.raises(VaelabError) as info:
        load_run(folder)
    assert str(info.value) == (
        f"{folder / 'model.safetensors'}: holds {held:,} bytes, far too few for the weights of "
        f"the model that config.json describes (34,773,404,752): one of the two is not the "
        f"run's; put config.json back as the run wrote it, or train the run again")


def test_a_model_too_large_for_this_machines_memory_is_refused_in_one_line(tiny, tmp_path,
                                                                          monkeypatch):
    """vaelab train --hidden-dims 65536 65536 filled the memory until the system ended it."""
    from vaelab.config import ModelConfig
    from vaelab.training import runs
    from vaelab.training.loop import train

    monkeypatch.setattr(runs, "physical_memory", lambda: 2**30)
    config = RunConfig(ModelConfig("vae", 2, (65536,)))  # 103 M weights: 1.5 GiB to train
    with pytest.raises(VaelabError, match=r"^the model's weights, with what training keeps "
                                          r"beside them \(gradients, Adam's state\), take "
                                          r"1\.5 GiB, more than this machine's 1\.0 GiB of "
                                          r"memory; give smaller hidden_dims \(or channels\)$"):
        train(config, tmp_path / "run", data=tiny, progress=False)
    assert not (tmp_path / "run").exists()  # refused before its folder was made
    # of large images (photos given without --image-size), the size is the way out
    from vaelab.config import DataConfig
    from vaelab.data import ImageData

    photos = ImageData("photos", ("a",), torch.zeros(4, 3, 300, 200, dtype=torch.uint8),
                       torch.zeros(4, dtype=torch.int64),
                       torch.zeros(2, 3, 300, 200, dtype=torch.uint8),
                       torch.zeros(2, dtype=torch.int64))
    with pytest.raises(VaelabError, match=r"of memory; give a smaller image_size \(the images "
                                          r"are 200 x 300 pixels\), or smaller hidden_dims "):
        train(RunConfig(ModelConfig("vae", 2, (4096,)), DataConfig(dataset="photos")),
              tmp_path / "photos", data=photos, progress=False)


@pytest.mark.parametrize(("waits", "refusals", "written"), [((0.05, 0.1, 0.15, 0.2), 2, True),
                                                            ((0.05, 0.1, 0.15, 0.2), 9, False),
                                                            ((), 1, False)])  # Windows', Linux's
def test_a_file_held_open_for_a_moment_on_windows_is_replaced_once_it_is_let_go(
        tmp_path, monkeypatch, waits, refusals, written):
    """On Windows a virus scanner or a synced folder's client can hold a file for a moment,
    and os.replace then fails with PermissionError: a checkpoint's write ended the run."""
    from vaelab import files

    target = tmp_path / "checkpoint.safetensors"
    target.write_bytes(b"old")
    real, calls = os.replace, []

    def held(source, destination):
        calls.append(source)
        if len(calls) <= refusals:
            raise PermissionError(13, "Access is denied", str(destination))
        real(source, destination)

    monkeypatch.setattr(files, "REPLACE_WAITS", waits)
    monkeypatch.setattr(files.os, "replace", held)
    monkeypatch.setattr(files.time, "sleep", lambda seconds: None)
    if written:
        files.write_atomic(target, b"new")
    else:
        with pytest.raises(OSError, match="Access is denied"):
            files.write_atomic(target, b"new")
    assert target.read_bytes() == (b"new" if written else b"old")
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.safetensors"]  # no temporary


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to sync it on Windows")
def test_a_file_written_whole_reaches_the_disk_and_so_does_its_name(tmp_path, monkeypatch):
    """fsync of the file and then of its folder, where the new name is kept: a power cut after
    a checkpoint's write leaves the new checkpoint, not an empty or a missing file."""
    import stat

    from vaelab import files

    real, synced = os.fsync, []

    def fsync(fd):
        synced.append(os.fstat(fd))
        real(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    files.write_atomic(tmp_path / "metrics.jsonl", b"{}\n")
    folder = os.stat(tmp_path)
    assert [stat.S_ISDIR(s.st_mode) for s in synced] == [False, True]
    assert (synced[1].st_dev, synced[1].st_ino) == (folder.st_dev, folder.st_ino)
    assert synced[0].st_size == 3


def test_a_folder_is_writable_where_a_file_can_be_made_in_it(tmp_path, monkeypatch):
    """os.access told nothing of a folder on Windows: vaelab makes a file to find out."""
    import tempfile

    from vaelab import files

    assert files.writable(tmp_path) and list(tmp_path.iterdir()) == []  # nothing left
    assert not files.writable(tmp_path / "missing")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)  # a read-only disk, say
    assert not files.writable(tmp_path)
