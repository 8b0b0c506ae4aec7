import dataclasses
import json
from pathlib import Path
from typing import get_args

import pytest

from vaelab.config import (
    ArchName,
    DataConfig,
    KLName,
    LikelihoodName,
    ModelConfig,
    ModelName,
    RunConfig,
    TrainConfig,
    parse_noise,
)
from vaelab.distributions import LIKELIHOODS
from vaelab.errors import ConfigError, VaelabError
from vaelab.models import MODELS
from vaelab.nets import NETS
from vaelab.objectives import KL


def test_defaults_are_the_tutorials_settings():
    config = RunConfig()
    model = config.model
    assert (model.model, model.arch, model.latent_dims, model.hidden_dims, model.likelihood) == (
        "vae", "mlp", 2, (512,), "sse")
    assert config.data.dataset == "mnist"
    train = config.train
    assert (train.epochs, train.batch_size, train.lr, train.lr_schedule) == (
        20, 128, 1e-3, "constant")
    assert (train.objective, train.beta, train.kl_warmup, train.kl, train.noise) == (
        "elbo", 1.0, 0, "closed-form", "none")


def test_registries_and_config_choices_agree():
    assert set(MODELS) == set(get_args(ModelName))
    assert set(LIKELIHOODS) == set(get_args(LikelihoodName))
    assert set(NETS) == set(get_args(ArchName))
    assert set(KL) == set(get_args(KLName))


@pytest.mark.parametrize(("make", "field"), [
    (lambda: ModelConfig(latent_dims=0), "latent_dims"),
    (lambda: ModelConfig(latent_dims=2.5), "latent_dims"),
    (lambda: ModelConfig(hidden_dims=(512, -1)), "hidden_dims"),
    (lambda: ModelConfig(hidden_dims=512), "hidden_dims"),
    (lambda: ModelConfig(model="gan"), "model"),
    (lambda: DataConfig(dataset=""), "dataset"),
    (lambda: DataConfig(image_size=0), "image_size"),
    (lambda: DataConfig(test_fraction=1.0), "test_fraction"),
    (lambda: DataConfig(test_fraction=0), "test_fraction"),
    (lambda: DataConfig(split_seed=-1), "split_seed"),
    (lambda: DataConfig(image_shape=(2, 28, 28)), "image_shape"),
    (lambda: DataConfig(image_shape=(1, 0, 28)), "image_shape"),
    (lambda: DataConfig(classes=("a", 3)), "classes"),
    (lambda: DataConfig(fingerprint="not hex!"), "fingerprint"),
    (lambda: DataConfig(train_subset=0), "train_subset"),
    (lambda: TrainConfig(epochs=0), "epochs"),
    (lambda: TrainConfig(batch_size=True), "batch_size"),
    (lambda: TrainConfig(lr=0), "lr"),
    (lambda: TrainConfig(lr="fast"), "lr"),
    (lambda: TrainConfig(adam_eps=0), "adam_eps"),
    (lambda: TrainConfig(adam_eps=float("inf")), "adam_eps"),
    (lambda: TrainConfig(output_bias="zeros"), "output_bias"),
    (lambda: TrainConfig(seed=-1), "seed"),
    (lambda: TrainConfig(seed=2**64), "seed must be a whole number from 0 to "
                                      "9,223,372,036,854,775,807, got"),  # as people write it
    (lambda: ModelConfig(likelihood="l1"), "likelihood"),
    (lambda: ModelConfig(arch="rnn"), "arch"),
    (lambda: ModelConfig(arch="conv", channels=()), "channels"),
    (lambda: ModelConfig(channels=(32, 0)), "channels"),
    (lambda: TrainConfig(kl="reverse"), "kl"),
    (lambda: TrainConfig(beta=-1), "beta"),
    (lambda: TrainConfig(beta=float("nan")), "beta"),
    (lambda: TrainConfig(kl_warmup=-2), "kl_warmup"),
    (lambda: TrainConfig(k=0), "k"),
    (lambda: TrainConfig(objective="vi"), "objective"),
    (lambda: TrainConfig(lr_schedule="step"), "lr_schedule"),
    (lambda: TrainConfig(objective="iwae", beta=4), "iwae objective"),
    (lambda: TrainConfig(noise="salt"), "noise"),
    (lambda: TrainConfig(noise="gaussian:-1"), "noise"),
    (lambda: TrainConfig(noise="mask:1"), "noise"),
    (lambda: TrainConfig(noise="mask:"), "noise"),
])
def test_bad_settings_are_refused_by_name(make, field):
    with pytest.raises(ConfigError, match=field) as info:
        make()
    assert "\n" not in str(info.value)


def test_json_round_trip(tmp_path):
    config = RunConfig(ModelConfig("cvae", 5, (256, 128), arch="conv", channels=(16, 8),
                                   likelihood="bce"),
                       DataConfig("fashion-mnist", 1000),
                       TrainConfig(epochs=3, batch_size=64, lr=3e-4, seed=7, beta=2.5,
                                   kl_warmup=2, noise="mask:0.25", lr_schedule="cosine"))
    config.save(tmp_path / "config.json")
    assert RunConfig.load(tmp_path / "config.json") == config
    assert json.loads((tmp_path / "config.json").read_text())["model"]["hidden_dims"] == [256, 128]


@pytest.mark.parametrize(("raw", "message"), [
    ({"model": {"latnt_dims": 3}}, "unknown setting model.latnt_dims"),
    ({"model": {}, "optimizer": {}}, "unknown section 'optimizer'"),
    ({"epoch": 1, "train": {"loss": 2.5}},  # a line of metrics.jsonl
     r"unknown section 'epoch': a config has only model, data, train; is it a run's "
     r"config.json\?$"),
    ({"optimizer": {}}, r"not a vaelab config \(it has none of the sections model, data, "
                        r"train\)$"),
    ({"format": 99}, "newer vaelab"),
    ({"format": "6"}, r"its format '6' is none that vaelab wrote \(1, 2, 3, 4, 5, 6, 7\)$"),
    ({"format": True}, "its format True is none that vaelab wrote"),
    ({"model": [1, 2]}, "'model' must be a mapping"),
    ({"format": 1, "train": 3}, "'train' must be a mapping"),  # an older format too
    ({"format": 5, "train": None}, "'train' must be a mapping"),
    ({"train": {"epochs": "ten"}}, "epochs"),
    ([1, 2], r"holds list, not a mapping of settings \(a JSON object of model, data, "
             r"train\)$"),
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
    (tmp_path / "config.json").write_text('{\n  "model": {"model": "vae')
    with pytest.raises(ConfigError, match=r"\(Unterminated string starting at: line 2, column "
                                          r"22\); mend the file, or put a copy of it back$"):
        RunConfig.load(tmp_path / "config.json")
    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match=r"not valid JSON \(nested too deeply\); mend the file"):
        RunConfig.load(tmp_path / "config.json")
    (tmp_path / "config.json").write_bytes(b'{"model": "\xff\xc3("}')
    with pytest.raises(ConfigError, match=r"config.json: not text; mend the file, or put a copy"):
        RunConfig.load(tmp_path / "config.json")


def test_load_reads_no_further_than_a_config_can_be():
    """An endless file (a device) given as --config is refused after its first megabyte."""
    with pytest.raises(ConfigError, match=r"^/dev/zero: over 1,048,576 bytes, more than vaelab "
                                          r"ever writes there; give a run folder or the "
                                          r"config.json in one$"):
        RunConfig.load(Path("/dev/zero"))


def test_changes_lists_changed_settings():
    a = RunConfig()
    b = dataclasses.replace(a, train=dataclasses.replace(a.train, epochs=30, lr=0.01))
    assert a.changes(b) == [("train", "epochs", 20, 30), ("train", "lr", 0.001, 0.01)]
    assert a.changes(a) == []
    # k is compared as the draws it means: unset is the objective's default.
    iwae = RunConfig(train=TrainConfig(objective="iwae"))
    assert iwae.changes(RunConfig(train=TrainConfig(objective="iwae", k=5))) == []
    assert a.changes(RunConfig(train=TrainConfig(k=1))) == []
    assert a.changes(RunConfig(train=TrainConfig(k=2))) == [("train", "k", 1, 2)]


def test_a_config_of_format_1_is_read_with_its_likelihood_where_it_now_lives():
    old = {"format": 1, "model": {"model": "vae", "latent_dims": 2},
           "train": {"epochs": 5, "loss": "bce"}}
    config = RunConfig.from_dict(old)
    assert config.model.likelihood == "bce"
    assert config.train.epochs == 5


def test_k_counts_the_draws_of_either_objective_and_older_elbo_configs_keep_one():
    assert (TrainConfig().draws, TrainConfig(objective="iwae").draws) == (1, 5)
    assert (TrainConfig(k=3).draws, TrainConfig(objective="iwae", k=7).draws) == (3, 7)
    # Up to format 5, train.k was written for every run (5) but only the IWAE bound used it.
    elbo = {"format": 5, "train": {"objective": "elbo", "k": 5}}
    assert RunConfig.from_dict(elbo).train.draws == 1
    iwae = {"format": 5, "train": {"objective": "iwae", "k": 7}}
    assert RunConfig.from_dict(iwae).train.draws == 7
    # An older IWAE run's 5 is the default it wrote: its settings carried to the ELBO draw once.
    old_iwae = RunConfig.from_dict({"format": 5, "train": {"objective": "iwae", "k": 5}}).train
    assert (old_iwae.draws, dataclasses.replace(old_iwae, objective="elbo").draws) == (5, 1)
    now = RunConfig(train=TrainConfig(k=4))
    assert RunConfig.from_dict(now.to_dict()) == now  # format 6 keeps the ELBO's k
    with pytest.raises(ConfigError, match="k must be"):
        TrainConfig(k=0)


def test_older_configs_keep_their_split_drawn_over_the_images_order_and_have_no_notes():
    """Up to format 6, the test images of data without a test set were drawn at random over
    the images' order; a run of then resumes, and its settings run again, on those."""
    old = RunConfig.from_dict({"format": 6, "data": {"dataset": "/data/shapes"}}).data
    assert (old.split_by_order, old.notes) == (True, None)
    assert (RunConfig().data.split_by_order, RunConfig().data.notes) == (False, None)
    now = RunConfig(data=DataConfig(dataset="/data/shapes", notes=("left out 1 file",)))
    assert RunConfig.from_dict(now.to_dict()) == now
    assert RunConfig.from_dict(now.to_dict()).data.notes == ("left out 1 file",)
    with pytest.raises(ConfigError, match=r"^notes must be a list of texts, got \[1\]$"):
        DataConfig(notes=[1])
    # A registered dataset has its own test set: how a folder's would be drawn means nothing
    from vaelab.measuring.pairing import check_same_test_images
    from vaelab.training.datasets import data_key

    assert data_key(RunConfig(data=old)) != data_key(RunConfig(data=dataclasses.replace(
        old, split_by_order=False))) == data_key(RunConfig(data=DataConfig("/data/shapes")))
    mnist = DataConfig(split_by_order=True)
    assert data_key(RunConfig(data=mnist)) == data_key(RunConfig())
    check_same_test_images([("old", mnist), ("new", DataConfig())])  # their own test set
    with pytest.raises(VaelabError, match=r"^old and new were trained with test images drawn "
                                          r"over the images' order \(as vaelab drew them up to "
                                          r"config format 6\) and by each image's hash: their "
                                          r"test images differ"):
        check_same_test_images([("old", old), ("new", DataConfig("/data/shapes"))])
    with pytest.raises(VaelabError, match=r"^new and old were trained with test images drawn "
                                          r"by each image's hash and over the images' order "):
        check_same_test_images([("new", DataConfig("/data/shapes")), ("old", old)])


def test_noise_is_read_as_kind_and_level():
    assert parse_noise("none") is None
    assert parse_noise("gaussian:0.3") == ("gaussian", 0.3)
    assert parse_noise("mask:0.5") == ("mask", 0.5)


@pytest.mark.parametrize(("config", "title"), [
    (RunConfig(), "VAE"),
    (RunConfig(ModelConfig("ae")), "AE"),
    (RunConfig(ModelConfig("cvae", arch="conv")), "conv CVAE"),
    (RunConfig(train=TrainConfig(beta=4)), "β-VAE (β = 4)"),
    (RunConfig(train=TrainConfig(objective="iwae", k=5)), "VAE (IWAE, k = 5)"),
    (RunConfig(train=TrainConfig(objective="iwae")), "VAE (IWAE, k = 5)"),
    (RunConfig(train=TrainConfig(k=5)), "VAE (ELBO, k = 5)"),
    (RunConfig(train=TrainConfig(k=1)), "VAE"),
    (RunConfig(train=TrainConfig(kl="tutorial")), "VAE (tutorial KL)"),
    (RunConfig(ModelConfig("ae"), train=TrainConfig(noise="mask:0.5")),
     "denoising AE (mask 0.5)"),
])
def test_titles_say_what_the_run_is(config, title):
    assert config.title() == title
    assert config.named() == ("an " if title == "AE" else "a ") + title  # 'an AE', 'a β-VAE'


def test_every_flags_description_is_one_line_so_help_does_not_break_it_mid_sentence():
    import docstring_parser

    from vaelab.cli.options import _flag_settings

    flags = _flag_settings()
    for section in (ModelConfig, DataConfig, TrainConfig):
        for param in docstring_parser.parse_from_object(section).params:
            if param.arg_name in flags:  # tyro keeps a docstring's line breaks in --help
                assert "\n" not in param.description, f"{section.__name__}.{param.arg_name}"


def test_the_iwae_settings_error_names_the_models_that_have_a_posterior():
    """The settings cannot ask the models, so they name them: the registry's, still."""
    from vaelab.models import MODELS

    having = ", ".join(name for name, kind in MODELS.items() if kind.has_posterior)
    with pytest.raises(ConfigError, match=rf"for a model with a posterior \({having}\)"):
        TrainConfig(objective="iwae", beta=4)


def test_a_dataset_given_as_a_pathlib_path_is_its_text(tmp_path):
    """It was refused as 'must be a name or a path, got PosixPath(...)'."""
    assert DataConfig(dataset=tmp_path / "my.npz").dataset == str(tmp_path / "my.npz")


def test_a_runs_config_json_that_lost_a_setting_is_refused_not_filled_in(tmp_path):
    """A config.json without its batch size resumed the run at batch 128 (it trained with
    32), without a word, and wrote 128 back; without its train section, 17 more epochs."""
    from vaelab.errors import SettingsFileError

    config = RunConfig(train=TrainConfig(batch_size=32, epochs=3))
    path = tmp_path / "config.json"
    config.save(path)
    whole = json.loads(path.read_text())
    for section, key, said in (("train", "batch_size", "no setting train.batch_size"),
                               ("train", None, "no 'train' section")):
        raw = json.loads(json.dumps(whole))
        if key is None:
            del raw[section]
        else:
            del raw[section][key]
        path.write_text(json.dumps(raw))
        with pytest.raises(SettingsFileError, match=f"{said}, which vaelab writes into every "
                                                    f"run's config.json; mend the file"):
            RunConfig.load(path, whole=True)  # as --resume, load_run and --config RUN read it
        # A settings file of one's own (vaelab train --config FILE) may leave settings out
        assert RunConfig.load(path).train.epochs == (3 if key else 20)
    old = {**json.loads(json.dumps(whole)), "format": 5}  # older formats lacked settings
    del old["train"]["adam_eps"]
    path.write_text(json.dumps(old))
    assert RunConfig.load(path, whole=True).train.batch_size == 32
