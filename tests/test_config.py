import dataclasses
import json
from typing import get_args

import pytest

from vaelab.config import (
    DataConfig,
    DatasetName,
    KLName,
    LossName,
    ModelConfig,
    ModelName,
    RunConfig,
    TrainConfig,
)
from vaelab.data import DATASETS
from vaelab.errors import ConfigError
from vaelab.models import MODELS
from vaelab.objectives import KL, RECONSTRUCTION


def test_defaults_are_the_tutorials_settings():
    config = RunConfig()
    assert (config.model.model, config.model.latent_dims, config.model.hidden_dims) == (
        "vae", 2, (512,))
    assert config.data.dataset == "mnist"
    train = config.train
    assert (train.epochs, train.batch_size, train.lr, train.loss) == (20, 128, 1e-3, "sse")
    assert train.kl == "closed-form"


def test_registries_and_config_choices_agree():
    assert set(MODELS) == set(get_args(ModelName))
    assert set(DATASETS) == set(get_args(DatasetName))
    assert set(RECONSTRUCTION) == set(get_args(LossName))
    assert set(KL) == set(get_args(KLName))


@pytest.mark.parametrize(("make", "field"), [
    (lambda: ModelConfig(latent_dims=0), "latent_dims"),
    (lambda: ModelConfig(latent_dims=2.5), "latent_dims"),
    (lambda: ModelConfig(hidden_dims=(512, -1)), "hidden width"),
    (lambda: ModelConfig(hidden_dims=512), "hidden_dims"),
    (lambda: ModelConfig(model="gan"), "model"),
    (lambda: DataConfig(dataset="cifar"), "dataset"),
    (lambda: DataConfig(train_subset=0), "train_subset"),
    (lambda: TrainConfig(epochs=0), "epochs"),
    (lambda: TrainConfig(batch_size=True), "batch_size"),
    (lambda: TrainConfig(lr=0), "lr"),
    (lambda: TrainConfig(lr="fast"), "lr"),
    (lambda: TrainConfig(seed=-1), "seed"),
    (lambda: TrainConfig(seed=2**64), "seed"),
    (lambda: TrainConfig(loss="l1"), "loss"),
    (lambda: TrainConfig(kl="reverse"), "kl"),
    (lambda: RunConfig(ModelConfig(model="ae"), train=TrainConfig(kl="tutorial")), "kl"),
])
def test_bad_settings_are_refused_by_name(make, field):
    with pytest.raises(ConfigError, match=field) as info:
        make()
    assert "\n" not in str(info.value)


def test_json_round_trip(tmp_path):
    config = RunConfig(ModelConfig("ae", 5, (256, 128)), DataConfig("fashion-mnist", 1000),
                       TrainConfig(epochs=3, batch_size=64, lr=3e-4, seed=7, loss="bce"))
    config.save(tmp_path / "config.json")
    assert RunConfig.load(tmp_path / "config.json") == config
    assert json.loads((tmp_path / "config.json").read_text())["model"]["hidden_dims"] == [256, 128]


@pytest.mark.parametrize(("raw", "message"), [
    ({"model": {"latnt_dims": 3}}, "unknown setting model.latnt_dims"),
    ({"optimizer": {}}, "unknown section 'optimizer'"),
    ({"format": 99}, "newer vaelab"),
    ({"model": [1, 2]}, "'model' must be a mapping"),
    ({"train": {"epochs": "ten"}}, "epochs"),
    ([1, 2], "holds list, not a mapping"),
])
def test_broken_config_files_are_named(raw, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(raw, source="runs/x/config.json")


def test_load_names_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        RunConfig.load(tmp_path / "config.json")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        RunConfig.load(tmp_path / "config.json")


def test_differences_lists_changed_settings():
    a = RunConfig()
    b = dataclasses.replace(a, train=dataclasses.replace(a.train, epochs=30, lr=0.01))
    assert a.differences(b) == ["train.epochs: 20 -> 30", "train.lr: 0.001 -> 0.01"]
    assert a.differences(a) == []
