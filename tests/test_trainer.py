import dataclasses
import json
import logging
import math
import shutil
import threading

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from conftest import patch_loss_terms
from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.errors import VaelabError
from vaelab.objectives import objective_per_image
from vaelab.training import step as step_module
from vaelab.training.datasets import learned_from, recorded
from vaelab.training.jobs import initial_state
from vaelab.training.loop import resume, train, train_all
from vaelab.training.runs import load_run


def _config(name: str = "vae", epochs: int = 3, **train_options) -> RunConfig:
    return RunConfig(ModelConfig(name, latent_dims=2, hidden_dims=(64,)),
                     train=TrainConfig(epochs=epochs, **{"batch_size": 64, **train_options}))


def _weights(path) -> dict[str, torch.Tensor]:
    return load_file(path / "model.safetensors")


def _metadata(checkpoint) -> dict[str, str]:
    with safe_open(checkpoint, "pt") as f:
        return f.metadata()


def _assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_run_folder_holds_config_weights_checkpoint_and_metrics(tiny, tmp_path):
    run = train(_config(epochs=2), tmp_path / "run", data=tiny, progress=False)
    files = sorted(p.name for p in run.path.iterdir())
    assert files == ["checkpoint.safetensors", "config.json", "metrics.jsonl",
                     "model.safetensors"]
    saved = RunConfig.load(run.path / "config.json")  # what was asked, and what the data is
    assert saved == recorded(_config(epochs=2), tiny)
    assert saved.data.image_shape == (1, 28, 28) and saved.data.classes == tiny.classes
    assert saved.data.fingerprint == tiny.fingerprint()
    lines = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2]
    for m in lines:
        for split in ("train", "test"):
            terms = m[split]
            assert math.isclose(terms["loss"], terms["recon"] + terms["kl"], rel_tol=1e-6)
            assert terms["kl"] > 0
        assert m["train_seconds"] > 0 and m["test_seconds"] > 0
    assert lines[1]["train"]["loss"] < lines[0]["train"]["loss"]
    assert run.epochs_done == 2


def test_ae_metrics_have_no_kl(tiny, tmp_path):
    run = train(_config("ae", epochs=1), tmp_path / "ae", data=tiny, progress=False)
    assert run.metrics[0]["test"]["kl"] is None
    assert run.metrics[0]["test"]["loss"] == run.metrics[0]["test"]["recon"]


def test_a_run_keeps_its_folder_and_one_that_is_gone_is_refused_before_anything_is_written(
        tiny, tmp_path, monkeypatch):
    """A Run kept in a notebook, named by a relative path, after the working folder changed:
    its measures and figures went into whatever that path named now, another run's folder
    or a stray new one. A Run whose folder was removed: measuring or drawing into it made a
    stray one again, which then refused the same name to train."""
    import re
    from pathlib import Path

    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.measuring.scorecard import load_scorecard
    from vaelab.pictures.figures import plot_run, write_run_figures
    from vaelab.training.runs import Run, opened, read_metrics

    run = train(_config(epochs=1), tmp_path / "x" / "run", data=tiny, progress=False)
    again = load_run(run)  # a Run given is loaded again from its folder
    assert again is not run and again.config == run.config and again.epochs_done == 1
    for wrong in (3, None):
        with pytest.raises(VaelabError, match=r"^load_run takes a run's folder \(a str or "
                                              r"Path\), not (int|NoneType)$"):
            load_run(wrong)
    with pytest.raises(VaelabError, match=r"^resume takes a run's folder \(a str or Path\), "
                                          r"not float$"):
        resume(1.5, data=tiny, progress=False)
    for out in (123, ["a"]):  # before anything is made or loaded
        with pytest.raises(VaelabError, match=r"^train takes each run's new folder \(a str or "
                                              r"Path\), not (int|list)$"):
            train(_config(epochs=1), out, data=tiny, progress=False)
    monkeypatch.chdir(tmp_path / "x")
    relative = load_run("run")
    assert opened(relative).path == Path("run")  # the working folder as it was: named as given
    other = tmp_path / "y" / "run"  # another run, which "run" names from y
    train(_config("ae", epochs=1), other, data=tiny, progress=False)
    monkeypatch.chdir(tmp_path / "y")
    evaluate_run(relative, tiny, k=2, judge=None)
    plot_run(relative, data=tiny, progress=False)
    for name in ("eval.json", "figures", "index.html"):
        assert (tmp_path / "x" / "run" / name).exists() and not (other / name).exists()
    # Loaded again, resumed, or its measures read: its own folder too, not the AE's
    copied = dataclasses.replace(relative, metrics=[])  # a copy keeps the folder it names
    assert load_run(copied).config.model.model == "vae" and load_scorecard(relative) is not None
    assert resume(relative, epochs=2, data=tiny, progress=False).path == tmp_path / "x" / "run"
    assert len(read_metrics(other)) == 1 and len(read_metrics(tmp_path / "x" / "run")) == 2
    moved = load_run(tmp_path / "x" / "run")  # a path set by hand is the one it names
    shutil.copytree(moved.path, tmp_path / "y" / "moved")
    moved.path = Path("moved")
    assert load_run(moved).path == Path("moved")
    assert load_run(Run(str(tmp_path / "x" / "run"), moved.config, moved.model)).epochs_done == 2
    for name in ("model.safetensors", "checkpoint.safetensors", "config.json", "metrics.jsonl",
                 "eval.json", "eval-per-image.safetensors", "index.html", "metrics.jsonl.tmp"):
        (tmp_path / "x" / "run" / name).unlink(missing_ok=True)
    shutil.rmtree(tmp_path / "x" / "run" / "figures")
    gone = f"^{re.escape(str(tmp_path / 'x' / 'run'))}: the run is no longer there \\(no " \
           f"config.json\\), so nothing is written into its folder; load_run it again from " \
           f"where it is now, or give "
    for call, way_out in ((lambda: evaluate_run(relative, tiny, k=2), "save=False"),
                          (lambda: plot_run(relative, data=tiny, progress=False), "out_dir"),
                          (lambda: write_run_figures(relative, tiny), "out_dir")):
        with pytest.raises(VaelabError, match=gone + way_out):
            call()
        assert sorted(p.name for p in (tmp_path / "x" / "run").iterdir()) == []
    # What writes nothing there still works
    evaluate_run(run, tiny, k=2, save=False, judge=None)
    assert set(plot_run(run, tiny, out_dir=tmp_path / "elsewhere", progress=False)) >= {"latent"}
    assert sorted(p.name for p in (tmp_path / "x" / "run").iterdir()) == []


def test_load_run_rebuilds_the_model_from_the_folder_alone(tiny, tmp_path):
    run = train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    again = load_run(run.path)
    x = tiny.test_images[:8].float() / 255
    assert torch.equal(run.model.reconstruct(x), again.model.reconstruct(x))
    assert again.config == run.config
    assert again.metrics == run.metrics
    # Loading draws nothing from the caller's random numbers (the first weights, replaced)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load_run(run.path)
    assert torch.equal(torch.rand(3), expected)
    # Samples to look at keep no graph: a plot can take them as they are
    assert not again.model.sample(2).requires_grad
    # Edge cases of train_all are one line, not an IndexError or seven folders of "runs/xy"
    for configs, outs in (([], None), ([_config()], "runs/xy")):
        with pytest.raises(VaelabError, match=r"^train_all takes a list of configs and a list "
                                              r"of as many folders$"):
            train_all(configs, outs, data=tiny, progress=False)
    # One config given where the list goes is one run, as train trains it
    for outs in ([tmp_path / "alone"], tmp_path / "alone-too"):
        alone = train_all(_config(epochs=1), outs, data=tiny, progress=False)
        assert len(alone) == 1 and alone[0].config == run.config


def test_same_seed_same_weights_other_seed_other_weights(tiny, tmp_path):
    runs = [train(_config(epochs=1, seed=s), tmp_path / f"s{i}", data=tiny, progress=False)
            for i, s in enumerate((0, 0, 1))]
    _assert_bitwise_equal(_weights(runs[0].path), _weights(runs[1].path))
    assert not torch.equal(_weights(runs[0].path)["decoder.head.0.weight"],
                           _weights(runs[2].path)["decoder.head.0.weight"])


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_resume_after_asking_for_fewer_epochs_is_bitwise_exact(name, tiny, tmp_path):
    full = train(_config(name, epochs=5), tmp_path / "full", data=tiny, progress=False)
    part = train(_config(name, epochs=2), tmp_path / "part", data=tiny, progress=False)
    done = resume(part, epochs=5, data=tiny, progress=False)  # a Run, or its folder
    _assert_bitwise_equal(_weights(full.path), _weights(done.path))
    assert [m["test"] for m in done.metrics] == [m["test"] for m in full.metrics]
    assert RunConfig.load(done.path / "config.json").train.epochs == 5


def test_a_run_going_on_with_other_threads_says_its_weights_will_differ(tiny, tmp_path, caplog):
    """Each epoch records the processes and threads it trained in; a resume with others says
    that the weights will not be bitwise those of a run never stopped, and one with the same
    says nothing."""
    threads = torch.get_num_threads()
    run = train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    assert (run.metrics[-1]["processes"], run.metrics[-1]["threads"]) == (1, threads)
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        resume(run, epochs=2, data=tiny, progress=False)
        assert "last bits" not in caplog.text
        torch.set_num_threads(threads + 1)
        try:
            again = resume(run, epochs=3, data=tiny, progress=False)
        finally:
            torch.set_num_threads(threads)
    assert (f"{run.path}: its last epoch trained in 1 process of {threads} "
            f"thread{'s' * (threads != 1)}, and it goes on in 1 process of {threads + 1} "
            f"threads: its weights may differ in their last bits from those of a run never "
            f"stopped") in caplog.text
    assert again.metrics[-1]["threads"] == threads + 1


def test_adams_epsilon_is_the_runs_and_survives_a_resume(tiny, tmp_path):
    paper = train(_config(epochs=2, adam_eps=1e-4), tmp_path / "paper", data=tiny, progress=False)
    default = train(_config(epochs=2), tmp_path / "default", data=tiny, progress=False)
    groups = json.loads(_metadata(paper.path / "checkpoint.safetensors")
                        ["optimizer_param_groups"])
    assert [group["eps"] for group in groups] == [1e-4]
    assert any(not torch.equal(a, b) for a, b in zip(_weights(paper.path).values(),
                                                      _weights(default.path).values(),
                                                      strict=True))
    part = train(_config(epochs=1, adam_eps=1e-4), tmp_path / "part", data=tiny, progress=False)
    _assert_bitwise_equal(_weights(paper.path),
                          _weights(resume(part.path, 2, data=tiny, progress=False).path))
    # A config written before the setting existed trains with PyTorch's default, as it did.
    old = {**_config().to_dict(), "format": 3}
    del old["train"]["adam_eps"]
    assert RunConfig.from_dict(old).train.adam_eps == 1e-8


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_output_bias_data_mean_starts_the_decoder_at_the_training_images_mean(arch, tiny):
    model_config = ModelConfig("vae", arch=arch, latent_dims=2, hidden_dims=(16,),
                               likelihood="bce")
    config = recorded(RunConfig(model_config, DataConfig(binarize="dynamic"),
                                TrainConfig(output_bias="data-mean")), tiny)
    default = dataclasses.replace(config, train=TrainConfig())
    started = initial_state(config, torch.device("cpu"), tiny)[0].state_dict()
    plain = initial_state(default, torch.device("cpu"), tiny)[0].state_dict()
    changed = [key for key in started if not torch.equal(started[key], plain[key])]
    assert len(changed) == 1  # the output bias alone: no other weight, no random draw moved
    bias = started[changed[0]]
    mean = (tiny.train_images.float() / 255).mean(dim=0).clamp(1e-3, 1 - 1e-3)  # (1, 28, 28)
    if arch == "mlp":  # one logit per pixel, whose sigmoid is that pixel's mean
        assert bias.shape == (784,)
        assert torch.allclose(torch.sigmoid(bias), mean.flatten(), atol=1e-5)
    else:  # one per channel: the mean of the pixels' logits
        assert bias.shape == (1,)
        assert torch.allclose(bias, torch.logit(mean).mean(), atol=1e-5)


def test_output_bias_is_saved_survives_a_bitwise_resume_and_older_configs_keep_the_default(
        tiny, tmp_path):
    full = train(_config(epochs=2, output_bias="data-mean"), tmp_path / "full", data=tiny,
                 progress=False)
    assert RunConfig.load(full.path / "config.json").train.output_bias == "data-mean"
    part = train(_config(epochs=1, output_bias="data-mean"), tmp_path / "part", data=tiny,
                 progress=False)
    _assert_bitwise_equal(_weights(full.path),
                          _weights(resume(part.path, 2, data=tiny, progress=False).path))
    old = {**_config().to_dict(), "format": 4}
    del old["train"]["output_bias"]
    assert RunConfig.from_dict(old).train.output_bias == "default"


class PowerCut(Exception):
    pass


def _cut_power_at_step(monkeypatch, step: int) -> None:
    """Make the training loop die in the middle of an epoch, as a crash would."""
    calls = {"n": 0}
    real = step_module.loss_terms

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            raise PowerCut
        return real(*args, **kwargs)

    patch_loss_terms(monkeypatch, dying)


def test_resume_after_a_crash_mid_epoch_is_bitwise_exact(tiny, tmp_path, monkeypatch):
    full = train(_config(epochs=4), tmp_path / "full", data=tiny, progress=False)
    _cut_power_at_step(monkeypatch, 8 * 2 + 3)  # 8 steps an epoch: dies in epoch 3
    with pytest.raises(PowerCut):
        train(_config(epochs=4), tmp_path / "crashed", data=tiny, progress=False)
    monkeypatch.undo()
    crashed = tmp_path / "crashed"
    assert len((crashed / "metrics.jsonl").read_text().splitlines()) == 2
    assert not list(crashed.glob(".*.tmp"))
    done = resume(crashed, data=tiny, progress=False)
    assert done.epochs_done == 4
    _assert_bitwise_equal(_weights(full.path), _weights(crashed))


def test_resuming_a_cosine_run_with_more_epochs_says_that_the_rate_jumps(tiny, tmp_path,
                                                                        caplog):
    run = train(_config(epochs=2, lr_schedule="cosine"), tmp_path / "run", data=tiny,
                progress=False)
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        resume(run.path, epochs=4, data=tiny, progress=False)
    # The curve now spans 4 epochs: epoch 3 starts half way down it, at 0.5 * 1e-3.
    assert ("its cosine schedule now spans 4 epochs, not 2: the learning rate goes from 0 at "
            "the end of epoch 2 to 0.0005") in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        resume(run.path, epochs=5, data=tiny, progress=False)  # 4 -> 5 epochs: a smaller jump
        assert "now spans 5 epochs, not 4" in caplog.text
        caplog.clear()
        resume(run.path, epochs=5, data=tiny, progress=False)  # nothing to train, no jump
    assert "schedule now spans" not in caplog.text


def test_a_new_run_never_overwrites_an_old_one(tiny, tmp_path):
    run = train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    before = {p.name: p.read_bytes() for p in run.path.iterdir()}
    with pytest.raises(VaelabError, match=r"already holds a run that finished its epochs; "
                                          r"choose another out, open it with vaelab\.load_run"):
        train(_config(epochs=1), run.path, data=tiny, progress=False)
    assert {p.name: p.read_bytes() for p in run.path.iterdir()} == before


def test_a_model_that_does_not_fit_the_images_leaves_no_run_folder(tiny, tmp_path):
    """Five stride-2 convolutions do not fit 28 x 28 images: said before any folder is made,
    so the same --out can be used again at once."""
    too_deep = RunConfig(ModelConfig(arch="conv", channels=(2, 2, 2, 2, 2)),
                         train=TrainConfig(epochs=1))
    with pytest.raises(VaelabError, match="too small for 5 stride-2 convolutions; choose "
                                          "arch='mlp', a larger image_size or fewer channels"):
        train_all([RunConfig(train=TrainConfig(epochs=1)), too_deep],
                  [tmp_path / "first", tmp_path / "second"], data=tiny, progress=False)
    assert not (tmp_path / "first").exists() and not (tmp_path / "second").exists()


def test_default_run_folders_are_numbered(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = [train(_config("ae", epochs=1), data=tiny, progress=False).path
             for _ in range(2)]
    assert [p.as_posix() for p in paths] == ["runs/ae-mnist", "runs/ae-mnist-2"]


def test_resume_refuses_going_back_and_missing_checkpoints(tiny, tmp_path):
    run = train(_config(epochs=2), tmp_path / "run", data=tiny, progress=False)
    with pytest.raises(VaelabError, match="already trained 2 epochs"):
        resume(run.path, epochs=1, data=tiny, progress=False)
    (run.path / "checkpoint.safetensors").unlink()  # the run trained: its weights are there
    with pytest.raises(VaelabError, match=r"checkpoint.safetensors: missing, though the run has "
                                          r"trained epochs \(its model.safetensors is there\): "
                                          r"deleted or moved\? put it back to resume, or start "
                                          r"the run again with vaelab\.train\(vaelab\.RunConfig"
                                          r"\.load\("):
        resume(run.path, data=tiny, progress=False)
    (run.path / "model.safetensors").unlink()
    with pytest.raises(VaelabError, match="missing: the run stopped before its first checkpoint"):
        resume(run.path, data=tiny, progress=False)
    with pytest.raises(VaelabError, match=r": no such run folder$"):
        resume(tmp_path / "nowhere", data=tiny, progress=False)


def test_each_step_gets_its_images_labels_and_the_schedules_of_its_place_in_the_run(
        tiny, tmp_path, monkeypatch):
    """A CVAE with a KL warm-up and a cosine rate: every step is given the labels of its own
    images, the KL weight and Adam's rate of the share of the run done at that step (they
    change step by step, not once an epoch)."""
    from vaelab.training.schedules import kl_weight, learning_rate

    label_of = {bytes(image.numpy()): int(label)
                for image, label in zip(tiny.train_images, tiny.train_labels, strict=True)}
    seen = []
    real = step_module.Step.__call__

    def spy(step, x, inputs, y, eps, weight):
        images = (x * 255).round().to(torch.uint8)
        seen.append(([label_of[bytes(image.numpy())] for image in images], y.tolist(), weight,
                     step.optimizer.param_groups[0]["lr"]))
        return real(step, x, inputs, y, eps, weight)

    monkeypatch.setattr(step_module.Step, "__call__", spy)
    config = RunConfig(ModelConfig("cvae", latent_dims=2, hidden_dims=(32,)),
                       train=TrainConfig(epochs=2, batch_size=64, kl_warmup=2,
                                         lr_schedule="cosine"))
    train(config, tmp_path / "run", data=tiny, progress=False)
    n = len(tiny.train_images)
    places = [(epoch, start / n) for epoch in (1, 2) for start in range(0, n, 64)]
    assert len(seen) == len(places) == 16
    for (true, given, weight, rate), (epoch, done) in zip(seen, places, strict=True):
        assert given == true
        assert weight == pytest.approx(kl_weight(config.train, epoch, done))
        assert rate == pytest.approx(learning_rate(config.train, epoch, done))
    assert len({weight for _, _, weight, _ in seen}) == 16  # a new weight at every step


def test_every_reader_of_a_runs_config_refuses_one_that_lost_a_setting(tiny, tmp_path, capsys):
    """Resuming, loading, and training anew from a run's settings each read config.json as
    the run wrote it: one that lost its batch size is refused, never filled in with 128."""
    from conftest import run_cli

    run = train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    raw = json.loads((run.path / "config.json").read_text())
    del raw["train"]["batch_size"]
    (run.path / "config.json").write_text(json.dumps(raw))
    said = "no setting train.batch_size, which vaelab writes into every run's config.json"
    with pytest.raises(VaelabError, match=said):
        resume(run.path, epochs=2, data=tiny, progress=False)
    with pytest.raises(VaelabError, match=said):
        load_run(run.path)
    for args in (["train", "--resume", str(run.path), "--epochs", "2"],
                 ["train", "--config", str(run.path), "-o", str(tmp_path / "again")],
                 ["eval", str(run.path)]):
        code, _, err = run_cli(args, capsys)
        assert code != 0 and said in err and err.count("\n") == 1, (args, err)
    assert not (tmp_path / "again").exists()
    assert json.loads((run.path / "config.json").read_text()) == raw  # nothing written back


def test_damaged_files_are_named(tiny, tmp_path):
    run = train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    (run.path / "checkpoint.safetensors").write_bytes(b"garbage")
    with pytest.raises(VaelabError, match=r"checkpoint.safetensors: unreadable \(.*\); the file "
                                          r"is damaged; resume from a copy of the run, or start "
                                          r"it again with vaelab\.train\(vaelab\.RunConfig\.load"
                                          r"\('.*run'\), '.*run-2'\)$"):
        resume(run.path, epochs=2, data=tiny, progress=False)
    (run.path / "model.safetensors").unlink()
    with pytest.raises(VaelabError, match=r"missing; the run's checkpoint cannot be read either, "
                                          r"so train the run again$"):
        load_run(run.path)
    (run.path / "checkpoint.safetensors").unlink()
    with pytest.raises(VaelabError, match=r"missing; the run has no finished epoch \(it is still "
                                          r"in its first, or it stopped there\)$"):
        load_run(run.path)


def test_weights_that_do_not_fit_the_config_are_refused(tiny, tmp_path):
    run = train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    config = json.loads((run.path / "config.json").read_text())
    config["model"]["latent_dims"] = 3
    (run.path / "config.json").write_text(json.dumps(config))
    with pytest.raises(VaelabError, match="do not fit the model"):
        load_run(run.path)


def test_train_subset_trains_on_images_drawn_with_the_split_seed_and_tests_on_all(
        tiny, tmp_path):
    def config(subset, **data):
        return RunConfig(ModelConfig("vae", hidden_dims=(32,)),
                         DataConfig(train_subset=subset, **data),
                         TrainConfig(epochs=2, batch_size=50))

    run = train(config(100), tmp_path / "subset", data=tiny, progress=False)
    images, labels = learned_from(config(100), tiny)
    drawn = dataclasses.replace(tiny, train_images=images, train_labels=labels)
    alone = train(config(None), tmp_path / "drawn", data=drawn, progress=False)
    _assert_bitwise_equal(_weights(run.path), _weights(alone.path))
    assert not torch.equal(images, tiny.train_images[:100])
    assert not torch.equal(learned_from(config(100, split_seed=1), tiny)[0], images)
    # A folder lists its images class by class: the subset still holds every class.
    by_class = tiny.train_labels.argsort(stable=True)
    sorted_data = dataclasses.replace(tiny, train_images=tiny.train_images[by_class],
                                      train_labels=tiny.train_labels[by_class])
    assert set(learned_from(config(100), sorted_data)[1].tolist()) == set(range(10))
    # A run written before the draw goes on with the first N, as it was trained.
    old = {**config(100).to_dict(), "format": 2}
    assert torch.equal(learned_from(RunConfig.from_dict(old), tiny)[0], tiny.train_images[:100])
    test = objective_per_image(run.model, tiny.test_images, config(100).train, seed=0)
    assert run.metrics[-1]["test"] == test  # on all 128 test images
    with pytest.raises(VaelabError, match="train_subset is 1000, but mnist has 512"):
        train(config(1000), tmp_path / "too-many", data=tiny, progress=False)
    assert not (tmp_path / "too-many").exists()


def test_train_all_matches_training_each_run_alone(tiny, tmp_path):
    configs = [_config("ae", epochs=2), _config("vae", epochs=2)]
    threads = torch.get_num_threads()
    together = train_all(configs, [tmp_path / "ae", tmp_path / "vae"], data=tiny,
                         progress=False)
    assert torch.get_num_threads() == threads
    for config, run in zip(configs, together, strict=True):
        alone = train(config, tmp_path / f"alone-{config.model.model}", data=tiny,
                      progress=False)
        # One thread or several may round differently, but not more than that.
        for key, value in _weights(alone.path).items():
            torch.testing.assert_close(_weights(run.path)[key], value, rtol=1e-4, atol=1e-5)
        for a, b in zip(alone.metrics, run.metrics, strict=True):
            assert a["test"]["loss"] == pytest.approx(b["test"]["loss"], rel=1e-4)


def test_train_all_hands_each_run_over_as_soon_as_it_is_trained(tiny, tmp_path):
    """``then`` sees each run once, finished and saved, in the thread that trained it: the
    short run while the long one still trains."""
    seen = []

    def then(run):
        metrics = tmp_path / "long" / "metrics.jsonl"
        done = metrics.read_text().count("\n") if metrics.exists() else 0
        seen.append((run.path.name, run.epochs_done, threading.current_thread().name, done))

    runs = train_all([_config("ae", epochs=1), _config("vae", epochs=40)],
                     [tmp_path / "short", tmp_path / "long"], data=tiny, progress=False,
                     then=then)
    assert [run.path.name for run in runs] == ["short", "long"]
    (short, one, short_thread, long_then), (long, forty, long_thread, _) = seen
    assert (short, one, long, forty) == ("short", 1, "long", 40)
    assert short_thread != long_thread and short_thread.startswith("vaelab-train")
    assert long_then < 40  # the long run was still training when the short one was handed over


def test_runs_side_by_side_keep_their_share_of_the_threads_to_their_end(tiny, tmp_path):
    """Side by side, two runs compute with one of two threads each, and the long one keeps
    its one after the short one has ended: taking up both, at a step that depends on when the
    other ended, rounded its sums otherwise on some machines, and two demos' VAEs differed."""
    threads_before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = {}
    try:
        train_all([_config("ae", epochs=1, batch_size=64),
                   _config("vae", epochs=40, batch_size=64)],
                  [tmp_path / "short", tmp_path / "long"], data=tiny, progress=False,
                  then=lambda run: seen.setdefault(run.path.name, torch.get_num_threads()))
        assert torch.get_num_threads() == 2  # this thread's own, as it was
    finally:
        torch.set_num_threads(threads_before)
    assert seen == {"short": 1, "long": 1}


def test_train_all_stops_every_run_when_one_fails(tiny, tmp_path, monkeypatch):
    _cut_power_at_step(monkeypatch, 3)
    threads_before = torch.get_num_threads()
    with pytest.raises(PowerCut):
        train_all([_config("ae", epochs=50), _config("vae", epochs=50)],
                  [tmp_path / "ae", tmp_path / "vae"], data=tiny, progress=False)
    assert torch.get_num_threads() == threads_before
    for name in ("ae", "vae"):  # the other run stopped too, long before its 50 epochs
        metrics = tmp_path / name / "metrics.jsonl"
        assert not metrics.exists() or len(metrics.read_text().splitlines()) < 50


@pytest.mark.slow
def test_twenty_epochs_on_mnist_resume_bitwise(mnist, tmp_path, monkeypatch):
    """The tutorial's architecture and settings on the real MNIST files (the first 1,280
    training and 1,000 test images, to keep it short): 20 epochs straight, against 7 epochs
    then a resume, and against a crash in epoch 12 then a resume."""
    config = RunConfig(data=DataConfig(train_subset=1280), train=TrainConfig(epochs=20))
    short = RunConfig(config.model, config.data, TrainConfig(epochs=7))
    small_test = dataclasses.replace(mnist, test_images=mnist.test_images[:1000],
                                     test_labels=mnist.test_labels[:1000])
    options = dict(data=small_test, progress=False)
    straight = train(config, tmp_path / "straight", **options)
    stopped = train(short, tmp_path / "stopped", **options)
    resume(stopped.path, epochs=20, **options)
    _cut_power_at_step(monkeypatch, 10 * 11 + 4)
    with pytest.raises(PowerCut):
        train(config, tmp_path / "crashed", **options)
    monkeypatch.undo()
    resume(tmp_path / "crashed", **options)
    for other in ("stopped", "crashed"):
        _assert_bitwise_equal(_weights(straight.path), _weights(tmp_path / other))
    assert straight.metrics[-1]["test"]["loss"] < straight.metrics[0]["test"]["loss"]


def test_train_all_checks_every_folder_before_making_any(tiny, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(VaelabError, match="taken already exists"):
        train_all([_config("ae"), _config("vae")], [tmp_path / "new", tmp_path / "taken"],
                  data=tiny, progress=False)
    assert not (tmp_path / "new").exists()
    with pytest.raises(VaelabError, match="cannot share an output folder"):
        train_all([_config("ae"), _config("vae")], [tmp_path / "same", tmp_path / "same"],
                  data=tiny, progress=False)


def test_a_run_diverging_before_its_first_checkpoint_says_how_to_start_again(tiny, tmp_path):
    """Before its first checkpoint there is none to keep: it says how to start again (it
    said a checkpoint was kept)."""
    with pytest.raises(VaelabError) as info:
        train(_config(epochs=3, lr=1e10), tmp_path / "run", data=tiny, progress=False)
    assert str(info.value) == (f"{tmp_path / 'run'}: training diverged in epoch 1 (the loss is "
                               f"nan) before its first checkpoint; start it again with "
                               f"vaelab.train(vaelab.RunConfig.load({str(tmp_path / 'run')!r}), "
                               f"{str(tmp_path / 'run-2')!r}) and a smaller lr than 1e+10, or a "
                               f"grad_clip (such as 1000)")  # as Python spells them
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]


def test_the_checkpoint_alone_is_enough_to_resume(tiny, tmp_path):
    full = train(_config(epochs=3), tmp_path / "full", data=tiny, progress=False)
    part = train(_config(epochs=1), tmp_path / "part", data=tiny, progress=False)
    (part.path / "metrics.jsonl").unlink()
    (part.path / "model.safetensors").unlink()
    done = resume(part.path, epochs=3, data=tiny, progress=False)
    assert [m["epoch"] for m in done.metrics] == [1, 2, 3]
    _assert_bitwise_equal(_weights(full.path), _weights(part.path))
    assert len((part.path / "metrics.jsonl").read_text().splitlines()) == 3


def test_resuming_on_another_kind_of_device_goes_on_with_a_warning(tiny, tmp_path, caplog):
    """A CPU generator's state does not fit a CUDA generator, and the other way round: the
    run goes on with fresh random numbers, and says that it is no longer bit for bit."""
    from safetensors.torch import save_file

    run = train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    checkpoint = run.path / "checkpoint.safetensors"
    save_file(load_file(checkpoint), checkpoint,
              metadata={**_metadata(checkpoint), "rng_device": "cuda"})
    with caplog.at_level("WARNING", logger="vaelab"):
        done = resume(run.path, epochs=2, device="cpu", data=tiny, progress=False)
    assert done.epochs_done == 2
    assert "was trained on cuda and goes on on cpu" in caplog.text


def test_an_unfinished_epoch_goes_on_from_its_step_on_another_kind_of_device(
        tiny, tmp_path, monkeypatch):
    """Only the random numbers start afresh: the epoch's order, its steps done and its sums
    are kept, so that no image of it is learnt from twice."""
    from safetensors.torch import save_file

    _cut_power_at_step(monkeypatch, 8 + 4)  # 8 steps an epoch: epoch 2 dies in its 4th step
    with pytest.raises(PowerCut):
        train(_config(epochs=2), tmp_path / "run", data=tiny, progress=False,
              checkpoint_every="1")
    monkeypatch.undo()
    checkpoint = tmp_path / "run" / "checkpoint.safetensors"
    save_file(load_file(checkpoint), checkpoint,
              metadata={**_metadata(checkpoint), "rng_device": "cuda"})
    calls = {"n": 0}
    real = step_module.loss_terms

    def counted(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    patch_loss_terms(monkeypatch, counted)
    done = resume(tmp_path / "run", device="cpu", data=tiny, progress=False)
    assert done.epochs_done == 2
    assert calls["n"] == 8 - 3  # the rest of epoch 2, not all of it again


def test_ctrl_c_in_one_of_several_runs_stops_them_all(tiny, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = step_module.loss_terms

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 40:  # some steps into the second epoch of one of the runs
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    patch_loss_terms(monkeypatch, interrupted)
    threads = torch.get_num_threads()
    with pytest.raises(KeyboardInterrupt):
        train_all([_config("ae", epochs=30), _config("vae", epochs=30)],
                  [tmp_path / "ae", tmp_path / "vae"], data=tiny, progress=False)
    assert torch.get_num_threads() == threads
    for name in ("ae", "vae"):
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        assert 1 <= len(lines) < 30
        weights = load_file(tmp_path / name / "model.safetensors")
        assert weights  # the last finished epoch is on disk, whole


def test_training_reads_and_writes_subnormal_floats_as_zero_and_restores_the_callers_mode(
        tiny, tmp_path, monkeypatch):
    from vaelab.device import flushing_denormals
    from vaelab.training import jobs

    seen = []
    original = jobs.train_epoch
    monkeypatch.setattr(jobs, "train_epoch", lambda *a, **k: seen.append(flushing_denormals())
                        or original(*a, **k))
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU has no mode that flushes subnormal floats")
    torch.set_flush_denormal(False)  # as a Python process starts (a vaelab command sets it)
    train(_config(epochs=1), tmp_path / "alone", data=tiny, progress=False)
    train_all([_config(epochs=1, seed=1), _config(epochs=1, seed=2)],
              [tmp_path / "a", tmp_path / "b"], data=tiny, progress=False)
    assert seen == [True, True, True]  # alone, and in each thread of two side by side
    assert not flushing_denormals()
    assert torch.tensor([2.0 ** -130]).item() > 0  # the caller's floats are as they were
    torch.set_flush_denormal(True)  # a caller that flushes them keeps doing so
    try:
        resume(tmp_path / "alone", epochs=2, data=tiny, progress=False)
        assert flushing_denormals() and seen[-1]
    finally:
        torch.set_flush_denormal(False)


def test_the_subnormal_probe_asks_the_cpu_whatever_pytorchs_defaults():
    from vaelab.device import denormals_flushed, flushing_denormals

    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU has no mode that flushes subnormal floats")
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # where 2^-130 is an ordinary number
    try:
        assert flushing_denormals()
        with denormals_flushed():
            pass
        assert flushing_denormals()  # not switched off on leaving
        torch.set_flush_denormal(False)
        assert not flushing_denormals()
    finally:
        torch.set_default_dtype(before)
        torch.set_flush_denormal(False)


def test_a_vaelab_command_run_in_process_gives_the_callers_mode_back(tmp_path, capsys):
    from vaelab.cli import main
    from vaelab.device import flushing_denormals

    torch.set_flush_denormal(False)
    assert main(["plot", str(tmp_path / "no-such-run")]) == 2
    assert not flushing_denormals()


def test_train_takes_a_run_config_and_names_a_misplaced_part(tiny, tmp_path):
    from vaelab.config import DataConfig, ModelConfig, TrainConfig
    from vaelab.errors import ConfigError

    # Positionally, a TrainConfig second lands in data: refused where it is built
    with pytest.raises(ConfigError, match="RunConfig's data must be a DataConfig, got "
                                          "TrainConfig; name each part"):
        RunConfig(ModelConfig(), TrainConfig(epochs=1))
    with pytest.raises(ConfigError, match="RunConfig's model must be a ModelConfig, got dict"):
        RunConfig(model={"model": "vae"})
    assert RunConfig(ModelConfig(), DataConfig(), TrainConfig()) == RunConfig()
    with pytest.raises(VaelabError, match=r"train takes a RunConfig, got str; a saved run's "
                                          r"settings are RunConfig.load\('RUN/config.json'\)"):
        train("runs/vae", tmp_path / "x", data=tiny, progress=False)
    assert not (tmp_path / "x").exists()


def test_a_run_of_few_steps_is_told_that_its_model_learns_little(tiny, tmp_path, caplog):
    """A small folder at the tutorial's batch of 128 trains one step an epoch: 20 in a demo."""
    from vaelab.training.checks import note_few_steps

    few = RunConfig(ModelConfig(hidden_dims=(8,)), DataConfig(train_subset=64),
                    TrainConfig(epochs=2, batch_size=32))
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        train_all([few, dataclasses.replace(few, model=ModelConfig("ae", hidden_dims=(8,)),
                                            train=dataclasses.replace(few.train, lr=1e-2))],
                  [tmp_path / "vae", tmp_path / "ae"], data=tiny, progress=False)
    told = "64 training images at batch 32 make 2 steps an epoch, 4 in all: too few for the " \
           "model to learn much; give a smaller batch_size or more epochs"
    assert caplog.text.count(told) == 1  # once for the runs it is true of, other rates or not
    caplog.clear()
    enough = dataclasses.replace(few, train=TrainConfig(epochs=100, batch_size=32))
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        train(enough, tmp_path / "enough", data=tiny, progress=False)
    assert "too few" not in caplog.text
    caplog.clear()  # one image: no smaller batch makes more steps of it
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        note_few_steps(TrainConfig(epochs=2, batch_size=16), 1)
    assert caplog.messages == ["1 training image at batch 16 makes 1 step an epoch, 2 in all: "
                               "too few for the model to learn much; give more epochs or "
                               "more images"]
