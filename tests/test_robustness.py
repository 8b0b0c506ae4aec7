"""Bad files never get past vaelab's own error: any bytes given as an IDX file, any JSON given as
a config, any damage to a run folder either loads or raises ``VaelabError`` (one line, naming
the file), never another exception, and never hangs. And nothing is ever unpickled."""

from __future__ import annotations

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
