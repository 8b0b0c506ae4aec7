"""Every model, architecture and likelihood behind the one interface, as a grid: shapes for
several latent sizes and image shapes, gradients that reach every weight, a batch that can be
overfit, a save -> load round trip that gives identical outputs; and every model through the
whole pipeline."""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
import re
import shlex
import shutil
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.data import ImageData
from vaelab.distributions import LIKELIHOODS, DiagonalGaussian
from vaelab.errors import ConfigError, VaelabError
from vaelab.measuring.evaluation import evaluate_run
from vaelab.models import MODELS, build_model
from vaelab.nets import NETS
from vaelab.objectives import loss_terms
from vaelab.pictures.figures import plot_run
from vaelab.training.loop import check_fits, resume, train
from vaelab.training.runs import load_run

GRID = list(itertools.product(MODELS, NETS, LIKELIHOODS))
SHAPES = [(1, 28, 28), (3, 32, 32), (3, 13, 9)]
CLASSES = 4


def _small(name: str, arch: str, likelihood: str = "sse", latent_dims: int = 3) -> ModelConfig:
    return ModelConfig(name, latent_dims, (64,), arch=arch, channels=(8, 16),
                       likelihood=likelihood)


def _labels(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, CLASSES, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("name", "arch"), list(itertools.product(MODELS, NETS)))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("latent_dims", [1, 2, 16])
def test_shapes(name, arch, shape, latent_dims):
    model = build_model(_small(name, arch, latent_dims=latent_dims), shape, CLASSES)
    x, y = torch.rand(5, *shape), _labels(5)
    code = model.encode(x, y)
    if model.has_posterior:
        assert isinstance(code, DiagonalGaussian)
        assert code.mean.shape == code.logvar.shape == (5, latent_dims)
    else:
        assert code.shape == (5, latent_dims)
    z = model.embed(x, y)
    assert z.shape == (5, latent_dims)
    assert model.decode_params(z, y).shape == (5, *shape)
    images = model.decode(z, y)
    assert images.shape == (5, *shape) and images.min() >= 0 and images.max() <= 1
    assert model.reconstruct(x, y).shape == (5, *shape)
    if model.has_prior:
        assert model.sample(4, torch.Generator().manual_seed(0)).shape == (4, *shape)


@pytest.mark.parametrize(("name", "arch", "likelihood"), GRID)
def test_gradients_reach_every_weight(name, arch, likelihood):
    model = build_model(_small(name, arch, likelihood), (1, 12, 12), CLASSES)
    x = torch.rand(6, 1, 12, 12)
    terms = loss_terms(model, x, TrainConfig(), torch.Generator().manual_seed(0), _labels(6))
    terms.objective().sum().backward()
    for param_name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, param_name


def _four_patterns() -> torch.Tensor:
    """Four 16 x 16 images, each a bright bar and a grey one at places of their own."""
    x = torch.zeros(4, 1, 16, 16)
    for i in range(4):
        x[i, 0, 2 + 3 * i:5 + 3 * i, 2:14] = 1.0
        x[i, 0, 2:14, 2 + 3 * i:4 + 3 * i] = 0.6
    return x


@pytest.mark.parametrize(("name", "arch", "likelihood"), GRID)
def test_one_batch_can_be_overfit(name, arch, likelihood):
    """With the KL weighed 0 (a posterior may then shrink to a point), every net and
    likelihood can learn four images by heart: their reconstructions end far closer to them
    than the mean image is."""
    torch.manual_seed(0)
    model = build_model(_small(name, arch, likelihood, latent_dims=4), (1, 16, 16), 4)
    x, y = _four_patterns(), torch.arange(4)
    # A rate of 3e-3 left a conv VAE stuck at the mean image for some seeds and thread
    # counts (dead units); 1e-3 for 300 steps learns every one of them.
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        terms = loss_terms(model, x, TrainConfig(), generator, y)
        optimizer.zero_grad()
        terms.objective(kl_weight=0.0).mean().backward()
        optimizer.step()
    with torch.no_grad():
        error = (model.reconstruct(x, y) - x).abs().mean().item()
    mean_image = (x - x.mean(dim=0)).abs().mean().item()
    assert error < 0.25 * mean_image, (error, mean_image)


@pytest.mark.parametrize(("name", "arch", "likelihood"), GRID)
def test_saved_and_loaded_weights_give_identical_outputs(name, arch, likelihood, tmp_path):
    config = _small(name, arch, likelihood)
    a = build_model(config, (3, 16, 16), CLASSES)
    with torch.no_grad():  # learned likelihood parameters away from their start, too
        for p in a.likelihood.parameters():
            p.add_(torch.rand(p.shape))
    save_file({k: v.contiguous() for k, v in a.state_dict().items()}, tmp_path / "w.st")
    b = build_model(config, (3, 16, 16), CLASSES)
    b.load_state_dict(load_file(tmp_path / "w.st"))
    x, y = torch.rand(4, 3, 16, 16), _labels(4)
    assert torch.equal(a.reconstruct(x, y), b.reconstruct(x, y))
    logits = a.decode_params(a.embed(x, y), y)
    assert torch.equal(a.likelihood.log_prob(logits, x), b.likelihood.log_prob(logits, x))


def test_capabilities_say_what_each_model_can_do():
    assert [(m, c.has_posterior, c.has_prior, c.conditional) for m, c in MODELS.items()] == [
        ("ae", False, False, False), ("vae", True, True, False), ("cvae", True, True, True)]


# ---------------------------------------------------------------------------------------------
# The conditional VAE.


def test_a_cvae_draws_the_class_it_is_given_and_every_class_in_turn_by_default():
    model = build_model(_small("cvae", "mlp"), (1, 8, 8), CLASSES)
    z = torch.randn(3, 3)
    sevens = model.decode(z, torch.full((3,), 2))
    assert not torch.equal(sevens, model.decode(z, torch.full((3,), 1)))
    assert torch.equal(model.decode(z, torch.nn.functional.one_hot(torch.full((3,), 2),
                                                                    CLASSES)), sevens)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    in_turn = model.sample(6, g())
    assert torch.equal(in_turn, model.sample(6, g(), y=torch.arange(6) % CLASSES))
    with pytest.raises(VaelabError, match="pass y"):
        model.encode(torch.rand(2, 1, 8, 8))
    # Labels as a user gives them: one class number for all, a list; wrong ones in one line
    assert torch.equal(model.sample(3, g(), y=2), model.sample(3, g(), y=torch.full((3,), 2)))
    assert torch.equal(model.sample(2, g(), y=[1, 3]), model.sample(2, g(), y=torch.tensor([1, 3])))
    with pytest.raises(VaelabError, match="y holds 2 labels for 4 samples; give one per"):
        model.sample(4, y=torch.tensor([1, 3]))
    with pytest.raises(VaelabError, match=f"class numbers go from 0 to {CLASSES - 1}, got 3 to 11"):
        model.sample(2, y=torch.tensor([11, 3]))
    with pytest.raises(VaelabError, match="one class number per image"):
        model.decode(z, torch.zeros(3, 1, 1, dtype=torch.long))
    with pytest.raises(VaelabError, match=f"class numbers go from 0 to {CLASSES - 1}, got 0 to 9"):
        model.decode(z, [0, 1, 9])  # a list, as a user gives it


@pytest.mark.parametrize("name", MODELS)
def test_a_model_takes_images_as_vaelabs_datasets_hold_them(name):
    model = build_model(_small(name, "mlp"), (1, 8, 8), CLASSES)
    y = _labels(5) if model.conditional else None
    grey = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    assert torch.equal(model.embed(grey, y), model.embed(grey.float() / 255, y))


def test_a_cvae_needs_labels_and_an_ae_takes_no_kl_settings(tiny, tmp_path):
    with pytest.raises(VaelabError, match="has none"):
        build_model(_small("cvae", "mlp"), (1, 8, 8), classes=0)
    # Images given in memory without labels: the advice is for them, not for a folder
    blobs = ImageData("blobs", (), tiny.train_images[:64], None, tiny.test_images[:16], None)
    with pytest.raises(VaelabError, match=r"^a CVAE learns from labels, and blobs has none; "
                                          r"train a VAE instead, or give the ImageData the "
                                          r"classes' names and each image's label$"):
        train(RunConfig(_small("cvae", "mlp"), DataConfig("blobs")), tmp_path / "c", data=blobs,
              progress=False)
    assert not (tmp_path / "c").exists()
    for settings in (TrainConfig(beta=4), TrainConfig(kl_warmup=2), TrainConfig(objective="iwae"),
                  TrainConfig(kl="tutorial"), TrainConfig(k=3)):
        with pytest.raises(ConfigError, match="has no posterior"):
            check_fits(RunConfig(ModelConfig("ae"), train=settings))
    with pytest.raises(ConfigError, match=r"no draws: give beta=1, kl_warmup=0 \(the defaults\), "
                                          r"or choose model='vae'$"):  # as Python names them
        check_fits(RunConfig(ModelConfig("ae"), train=TrainConfig(beta=4, kl_warmup=2)))
    with pytest.raises(ConfigError, match=r"it takes no beta, kl_warmup or kl='tutorial'; drop "
                                          r"them or use objective='elbo'$"):
        TrainConfig(objective="iwae", beta=2)
    check_fits(RunConfig(ModelConfig("ae"), train=TrainConfig(noise="mask:0.5")))
    check_fits(RunConfig(ModelConfig("ae"), train=TrainConfig(k=1)))  # one draw: the default


# ---------------------------------------------------------------------------------------------
# Every model through the whole pipeline: train, resume, plot, evaluate.


@pytest.mark.parametrize(("name", "arch"), list(itertools.product(MODELS, NETS)))
def test_every_model_trains_resumes_plots_and_is_measured(name, arch, tiny, tmp_path):
    train_config = TrainConfig(epochs=1, batch_size=64, seed=1)
    if name != "ae":
        train_config = dataclasses.replace(train_config, beta=2.0, kl_warmup=1, k=2)
    config = RunConfig(ModelConfig(name, 2, (64,), arch=arch, channels=(8, 16)),
                       DataConfig(train_subset=256), train_config)
    run = train(config, tmp_path / "run", data=tiny, progress=False)
    run = resume(run.path, epochs=2, data=tiny, progress=False)
    assert [m["epoch"] for m in run.metrics] == [1, 2]
    paths = plot_run(run, tiny)
    expected = {"latent", "manifold", "reconstructions", "interpolation", "interpolation_gif",
                "loss", "page"}
    if run.model.has_prior:
        expected |= {"manifold_prior", "samples"}
    assert set(paths) == expected
    card = evaluate_run(run, tiny, k=5 if run.model.has_posterior else None, judge=None,
                        progress=False)
    assert (card.metrics["nll"].value is not None) == run.model.has_posterior
    assert load_run(run.path).model.conditional == run.model.conditional


def test_a_denoising_run_draws_what_it_makes_of_corrupted_images(tiny, tmp_path,
                                                                  monkeypatch):
    config = RunConfig(ModelConfig("ae", 2, (64,)), DataConfig(train_subset=256),
                       TrainConfig(epochs=1, noise="gaussian:0.3"))
    run = train(config, tmp_path / "run", data=tiny, progress=False)
    paths = plot_run(run, tiny)
    assert "denoising" in paths
    assert "Denoising" in paths["page"].read_text()
    # Its rows: the corrupted inputs, what the model makes of them (not of the clean ones)
    from vaelab.objectives import corrupt
    from vaelab.pictures import figures, plots

    drawn = {}
    monkeypatch.setattr(plots, "image_rows", lambda rows, **_: drawn.update(rows))
    figures._denoising(run.model, tiny, "run", False, "gaussian:0.3", seed=0)
    x, y, _ = figures._class_examples(tiny)
    noisy = corrupt(x, "gaussian:0.3", torch.Generator().manual_seed(0))
    with torch.inference_mode():
        output = figures.pictures_of(run.model.reconstruct(noisy, y), False)
    assert list(drawn) == ["corrupted input", "output", "clean image"]
    assert np.array_equal(drawn["corrupted input"], figures.pictures_of(noisy, False))
    assert np.array_equal(drawn["output"], output)


def test_a_run_folder_of_format_1_loads(tmp_path, tiny):
    run = train(RunConfig(ModelConfig("vae", 2, (64,)), DataConfig(train_subset=128),
                          TrainConfig(epochs=1)), tmp_path / "run", data=tiny, progress=False)
    # As vaelab wrote it before nets had a body and a head: format 1, train.loss, flat keys.
    raw = json.loads((run.path / "config.json").read_text())
    raw["format"] = 1
    raw["train"]["loss"] = raw["model"].pop("likelihood")
    for key in ("arch", "channels"):
        raw["model"].pop(key)
    for key in ("beta", "kl_warmup", "objective", "k", "lr_schedule", "noise"):
        raw["train"].pop(key)
    (run.path / "config.json").write_text(json.dumps(raw))
    weights = load_file(run.path / "model.safetensors")
    old = {key.replace(".head.", "."): value for key, value in weights.items()}
    save_file(old, run.path / "model.safetensors", metadata={"epoch": "1"})
    again = load_run(run.path)
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(again.model.reconstruct(x), run.model.reconstruct(x))


def test_vaelab_sample_writes_a_chosen_class_or_says_why_not(tiny, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from vaelab.cli import main
    from vaelab.pictures.samples import by_class, columns_for
    from vaelab.pictures.samples import picture as sample_picture

    config = RunConfig(ModelConfig("cvae", 2, (64,)), DataConfig(train_subset=128),
                       TrainConfig(epochs=1))
    run = train(config, tmp_path / "cvae", data=tiny, progress=False)
    assert main(["sample", str(run.path), "--label", "7", "-n", "16", "-o",
                 str(tmp_path / "sevens.png")]) == 0
    assert Image.open(tmp_path / "sevens.png").size == (4 * 30 * 3 - 6, 4 * 30 * 3 - 6)
    assert main(["sample", str(run.path), "--label", "7", "-n", "10", "-o",
                 str(tmp_path / "ten.png")]) == 0  # two full rows, not rows of 4, 4 and 2
    assert Image.open(tmp_path / "ten.png").size == (5 * 30 * 3 - 6, 2 * 30 * 3 - 6)
    assert main(["sample", str(run.path), "--label", "7", "-n", "10", "--scale", "6", "-o",
                 str(tmp_path / "big.png")]) == 0  # each pixel 6 a side: the same, twice as big
    big, ten = (np.asarray(Image.open(tmp_path / f"{name}.png")) for name in ("big", "ten"))
    assert np.array_equal(big, ten.repeat(2, axis=0).repeat(2, axis=1))
    from vaelab import write_samples
    from vaelab.pictures.samples import _names_margin

    rows = write_samples(run, tmp_path / "rows4.png", n=20, scale=4)  # the size checked is drawn
    assert Image.open(rows).width == (2 * 30 - 2) * 4 + _names_margin([str(k) for k in range(10)],
                                                                     28, 4)
    with pytest.raises(VaelabError, match=r"^n must be a whole number from 1 to 10,000, got "
                                          r"0$"):  # as Python names it
        write_samples(run, tmp_path / "none.png", n=0)
    assert [columns_for(n) for n in (1, 2, 3, 5, 7, 10, 11, 12, 13, 14, 16, 64)] == [
        1, 2, 3, 5, 4, 5, 4, 4, 7, 7, 4, 8]  # 7 as 4 + 3, 11 as 4 + 4 + 3, 13 as 7 + 6
    from vaelab.cli.commands import _samples_file

    assert main(["sample", str(run.path), "--label", "7", "-n", "4"]) == 0
    assert (run.path / "samples-7.png").is_file()  # no --out: named by the class
    data = dataclasses.replace(run.config.data, classes=("T-shirt/top", "Ankle boot"))
    named = dataclasses.replace(run, config=dataclasses.replace(run.config, data=data))
    assert [_samples_file(named, label) for label in ("T-shirt/top", "1", "Ankle boot", None)] \
        == ["samples-T-shirt-top.png", "samples-Ankle-boot.png", "samples-Ankle-boot.png",
            "samples.png"]  # one file, not a folder 'samples-T-shirt'; a number by its name
    capsys.readouterr()
    assert main(["sample", str(run.path), "-n", "5"]) == 0
    assert (run.path / "samples.png").exists()  # fewer draws than classes: which, it says
    assert capsys.readouterr().err.endswith("samples.png (0 to 4, one each: -n 5 is fewer than "
                                            "the 10 classes)\n")
    # Every class in turn comes out one class per row, as the run's samples figure has them
    capsys.readouterr()
    assert main(["sample", str(run.path), "-n", "25", "-o", str(tmp_path / "all.png")]) == 0
    assert capsys.readouterr().err.endswith("all.png (a row per class, named at its left)\n")
    every = np.asarray(Image.open(tmp_path / "all.png"))
    margin = every.shape[1] - (3 * 30 * 3 - 6)  # the class names, at the left of their rows
    assert every.shape[0] == 10 * 30 * 3 - 6 and 20 < margin < 60
    assert all((every[k * 90:k * 90 + 84, :margin] < 128).any() for k in range(10))
    assert (every[:, margin - 6:margin] == 255).all()  # the names end before the images
    assert main(["sample", str(run.path), "-o", str(tmp_path / "rows.png")]) == 0  # 8 a class
    assert Image.open(tmp_path / "rows.png").size == (8 * 30 * 3 - 6 + margin, 10 * 30 * 3 - 6)
    drawn = torch.arange(25.0).view(25, 1, 1, 1).expand(25, 1, 2, 2)  # each draw its number
    rows, columns = by_class(drawn, 10)
    firsts = rows[:, 0, 0, 0].view(10, 3)
    assert columns == 3 and firsts[:, :2].tolist() == [[k, k + 10] for k in range(10)]
    assert firsts[:5, 2].tolist() == [20, 21, 22, 23, 24] and firsts[5:, 2].isnan().all()
    for ink in (False, True):  # the blank, third in the last row, is white either way
        blank = np.asarray(sample_picture(rows[-3:] / 25, 3, ink=ink))[:, 2 * 3 * (2 + 2):]
        assert blank.shape == (6, 6) and (blank == 255).all(), ink
    ae = train(RunConfig(ModelConfig("ae", 2, (64,)), DataConfig(train_subset=128),
                         TrainConfig(epochs=1)), tmp_path / "ae", data=tiny, progress=False)
    capsys.readouterr()
    for args, message in ((["sample", str(run.path), "--label", "eleven"], "--label: unknown class "
                           "'eleven'; choose one of: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9\n"),
                          (["sample", str(ae.path)], "has no prior"),
                          (["sample", str(run.path), "-o", str(tmp_path / "a.jpg")], "PNG"),
                          (["sample", str(run.path), "-n", "0"], "-n must be a whole"),
                          (["sample", str(run.path), "--scale", "0"],
                           "--scale must be a whole number from 1 to 16, got 0"),
                          (["sample", str(run.path), "--label", "7", "-n", "10000", "--scale",
                            "16"], "10,000 samples of 28x28 pixels at scale 16 make a picture "
                           "47,968 pixels across, more than the 30,000 that vaelab writes; "
                           "draw fewer, or at a smaller scale\n")):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_a_failure_measuring_a_model_early_lets_the_others_train_on(tiny, tmp_path,
                                                                    monkeypatch, caplog):
    """The model trained first is measured while the other still trains; if that fails, the
    other trains to its end and the first is measured again after training."""
    import vaelab.demo as demo
    import vaelab.measuring.evaluation as evaluation

    measured = []

    def flaky(run, *args, **kwargs):
        measured.append(run.path.name)
        if len(measured) == 1:
            raise RuntimeError("a passing fault")
        return evaluate_run(run, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_run", flaky)
    demo.run_demo(tmp_path / "demo", epochs=1, models=("ae", "vae"), data=tiny,
                  progress=False)
    first = measured[0]
    assert sorted(measured) == sorted(["ae", "vae", first])  # the first one twice
    assert "measuring it failed (a passing fault); it is measured again" in caplog.text
    for name in ("ae", "vae"):
        assert (tmp_path / "demo" / name / "eval.json").exists()
        assert len((tmp_path / "demo" / name / "metrics.jsonl").read_text().splitlines()) == 1


def test_the_demo_puts_any_models_of_the_family_side_by_side(tiny, tmp_path, monkeypatch):
    import vaelab.demo as demo
    from vaelab.cli.parsing import parse
    from vaelab.demo import run_demo

    choices, real = [], demo.write_run_figures
    monkeypatch.setattr(demo, "write_run_figures",
                        lambda *a, choice, **k: choices.append(choice) or real(*a, choice=choice,
                                                                                **k))
    started = time.perf_counter()
    page = run_demo(tmp_path / "demo", epochs=1, models=("vae", "cvae"), likelihood="bce",
                    binarize="dynamic", train_subset=300, data=tiny, progress=False)
    took = time.perf_counter() - started
    # Each part timed from the end of the one before: together no longer than the whole, but
    # for their rounding to milliseconds (half of one each at most)
    parts = json.loads((tmp_path / "demo" / "timings.json").read_text()).values()
    assert 0 < sum(parts) < took + 0.0005 * len(parts)
    plan = json.loads((tmp_path / "demo" / "demo.json").read_text())["runs"]
    assert {name: run["model"]["model"] for name, run in plan.items()} == {"vae": "vae",
                                                                          "cvae": "cvae"}
    assert {run["data"]["train_subset"] for run in plan.values()} == {300}
    for name in ("vae", "cvae"):  # measured as vaelab eval measures, with the demo's k
        assert json.loads((tmp_path / "demo" / name / "eval.json").read_text())["k"] == 50
    text = page.read_text()
    assert "VAE (Bernoulli) vs CVAE (Bernoulli)" in text
    assert "--models vae cvae --arch mlp --loss bce --binarize dynamic --train-subset 300" in text
    assert ("VAE (Bernoulli), CVAE (Bernoulli), images binarized anew for each batch: latent "
            "size 2, 1 epoch on 300 training images drawn at random,") in text  # the likelihood
    # once, in the titles
    # The page's command to run it again is one that `vaelab demo` takes, with these settings.
    again = shlex.split(html.unescape(re.search(r"vaelab demo [^<]*", text)[0]))
    command = parse(again[1:])
    assert (command.models, command.arch, command.likelihood, command.binarize,
            command.epochs, command.train_subset) == (("vae", "cvae"), "mlp", "bce", "dynamic",
                                                      1, 300)
    assert (tmp_path / "demo" / "cvae" / "figures" / "samples.png").exists()
    # Side by side, both interpolations join the same two classes (the first run's farthest).
    assert len(choices) == 2 and choices[0] == choices[1] and choices[0].between is not None
    from vaelab.measuring.latent import latent_picture
    from vaelab.pictures.interpolation import interpolation_pair

    seen = latent_picture(load_run(tmp_path / "demo" / "vae").model, tiny)
    ends = interpolation_pair(seen.points, seen.labels)
    assert choices[0].between == tuple(int(seen.labels[end]) for end in ends)
    for name in ("vae", "cvae"):  # the run measured last too, after the pages were drawn
        assert "<h2>Measured on the test set</h2>" in \
            (tmp_path / "demo" / name / "index.html").read_text(), name
    table = (tmp_path / "demo" / "compare.md").read_text()
    asked = next(line for line in table.splitlines() if "class asked for" in line)
    vae_cell, cvae_cell = asked.split("|")[2].strip(), asked.split("|")[3].strip()
    assert vae_cell.startswith("n/a [") and not cvae_cell.startswith("n/a")
    number = vae_cell.removeprefix("n/a [").rstrip("]")  # its reason, below the table
    assert f"- [{number}] only a conditional model (cvae) is asked for a class" in table
    nll = next(line for line in table.splitlines() if line.startswith("| NLL"))
    assert "n/a" not in nll  # Bernoulli pixels of binarized images: an exact likelihood
    with pytest.raises(VaelabError, match=r"^models names vae twice; the demo trains each "
                                          r"model once, side by side \(such as: \('ae', "
                                          r"'vae'\)\)$"):  # as Python names them
        run_demo(tmp_path / "again", models=("vae", "vae"), data=tiny, progress=False)


def test_the_comparison_says_which_class_a_cvaes_decoder_draws(tiny, tmp_path):
    from vaelab.measuring.latent import latent_picture
    from vaelab.pictures.comparison import comparison_figure
    from vaelab.training.loop import train_all

    configs = [RunConfig(ModelConfig(model=name), train=TrainConfig(epochs=1))
               for name in ("vae", "cvae")]
    runs = train_all(configs, [tmp_path / "vae", tmp_path / "cvae"], data=tiny, progress=False)
    pictures = [latent_picture(run.model, tiny) for run in runs]
    fig = comparison_figure(runs, pictures, tiny)
    drawn = tiny.classes[pictures[1].label]
    assert [cell._suptitle.get_text() for cell in fig.subfigs[:2]] == ["VAE", "CVAE"]
    assert [ax.get_title() for ax in fig.subfigs[1].axes] == [
        "test codes", f"decoder over the same region, drawn as class {drawn}"]
    assert [ax.get_title() for ax in fig.subfigs[0].axes][1] == "decoder over the same region"


def test_a_class_is_asked_for_by_name_or_number_and_the_hint_says_both():
    from vaelab.training.datasets import class_number

    config = RunConfig(data=DataConfig(classes=("circle", "square", "triangle")))
    assert class_number(config, "square") == class_number(config, "1") == \
        class_number(config, 1) == 1
    with pytest.raises(VaelabError, match=r"^label: unknown class '7'; choose one of: circle, "
                                          r"square, triangle \(or its number, 0 to 2\)$"):
        class_number(config, "7")
    # A name as it reads, whatever its case; a near miss is named
    assert class_number(config, "Triangle") == class_number(config, "SQUARE") + 1 == 2
    with pytest.raises(VaelabError,
                       match=r"^label: unknown class 'sqare' \(did you mean square\?\);"):
        class_number(config, "sqare")
    clothes = RunConfig(data=DataConfig(classes=("Bag", "Ankle boot", "bag")))
    assert class_number(clothes, "ankle boot") == 1 and class_number(clothes, "bag") == 2
    with pytest.raises(VaelabError, match=r"^label: unknown class 'BAG' \(did you mean [Bb]ag\?\)"):
        class_number(clothes, "BAG")  # two classes of that name: neither is guessed
    # A folder named café on macOS is 'cafe' and a combining accent; typed, one letter é
    drinks = RunConfig(data=DataConfig(classes=("cafe\u0301", "tea")))
    assert class_number(drinks, "caf\u00e9") == 0 == class_number(drinks, "CAF\u00c9")
    both = RunConfig(data=DataConfig(classes=("caf\u00e9", "cafe\u0301", "tea")))  # Linux may
    assert class_number(both, "Caf\u00e9") == 0 and class_number(both, "CAFE\u0301") == 1


def test_plot_draws_a_cvae_as_the_class_asked_for_and_joins_the_classes_asked_for(
        tiny, tmp_path, capsys):
    """A teacher setting two runs' figures side by side wants the same interpolation in each,
    and a CVAE's grids drawn as a class of their choosing."""
    from conftest import run_cli

    config = RunConfig(ModelConfig("cvae", 2, (16,)), DataConfig(train_subset=128),
                       TrainConfig(epochs=1))
    cvae = train(config, tmp_path / "cvae", data=tiny, progress=False)
    vae = train(dataclasses.replace(config, model=ModelConfig("vae", 2, (16,))),
                tmp_path / "vae", data=tiny, progress=False)
    figures = tmp_path / "figures"
    plot_run(cvae, tiny, out_dir=figures, fmt="svg", label="3", between=("1", "7"))
    for name in ("manifold", "manifold_prior"):
        assert "drawn as class 3" in (figures / f"{name}.svg").read_text()
    assert "two test images (classes 1 and 7)" in (figures / "interpolation.svg").read_text()
    assert "<text" in (figures / "interpolation.svg").read_text()  # text a slide can edit
    figures = tmp_path / "vae-figures"  # a folder of its own: the CVAE's is refused
    plot_run(vae, tiny, out_dir=figures, fmt="svg", between=(7, 7))  # its first two 7s
    svg = (figures / "interpolation.svg").read_text()
    assert "two test images of class 7" in svg and "far apart" not in svg  # chosen, not far
    for wrong in ("17", (1, 7, 8), (7,)):  # a string of two digits is no pair of them
        with pytest.raises(VaelabError, match=rf"^between takes two classes, as \(3, 8\) or "
                                              rf"\('Coat', 'Bag'\), not {re.escape(repr(wrong))}$"):
            plot_run(vae, tiny, out_dir=figures, between=wrong)
    capsys.readouterr()  # the notes of training and drawing, if a handler prints them
    for args, told in ((["--label", "3"], "which draws no chosen class; drop --label"),
                       (["--between", "1", "x"],
                        "--between: unknown class 'x'; choose one of: 0, 1,")):
        code, _, err = run_cli(["plot", str(vae.path), *args, "-q"], capsys)
        assert code != 0 and err.count("\n") == 1 and told in err, err


def test_between_names_a_class_the_test_images_lack_and_numbers_never_shadow_names():
    import numpy as np

    from vaelab.pictures.interpolation import firsts
    from vaelab.training.datasets import class_number

    names, labels = ("a", "b", "c"), np.array([0, 2, 0, 2])
    assert firsts(labels, (0, 2), names) == (0, 1) and firsts(labels, (2, 2), names) == (1, 3)
    for pair in ((0, 1), (1, 0)):
        with pytest.raises(VaelabError, match=r"^the test images hold no image of class b, "):
            firsts(labels, pair, names)
    with pytest.raises(VaelabError, match=r"of class a, and the test images hold 1$"):
        firsts(np.array([0, 1]), (0, 0), names)
    digits = RunConfig(data=DataConfig(classes=("0", "1", "5", "9")))
    assert class_number(digits, "5") == 2 and class_number(digits, 9) == 3
    with pytest.raises(VaelabError, match=r"^label: unknown class '2'; choose one of: 0, 1, 5, 9$"):
        class_number(digits, "2")  # not the third class, named 5
    with pytest.raises(VaelabError, match="unknown class '²'"):
        class_number(RunConfig(data=DataConfig(classes=("x", "y"))), "²")


def test_a_stopped_demo_is_finished_in_its_folder(tiny, tmp_path, capsys):
    from vaelab.cli import main
    from vaelab.demo import finish_demo, run_demo

    folder = tmp_path / "demo"
    run_demo(folder, epochs=1, models=("vae", "ae"), data=tiny, progress=False)
    # The VAE as a Ctrl-C leaves a demo of two epochs: one of them done, no page yet.
    config = json.loads((folder / "vae" / "config.json").read_text())
    config["train"]["epochs"] = 2
    (folder / "vae" / "config.json").write_text(json.dumps(config))
    for name in ("index.html", "compare.md", "compare.csv", "comparison.png"):
        (folder / name).unlink()
    ae_checkpoint = (folder / "ae" / "checkpoint.safetensors").stat().st_mtime_ns
    page = finish_demo(folder, data=tiny, progress=False)
    assert page == folder / "index.html"
    assert "Stopped, and finished on cpu by vaelab demo --resume in" in page.read_text()
    assert "; one run was left to train (timings.json" in page.read_text()  # the AE,
    assert "each but the last was measured" not in page.read_text()  # trained, is not
    assert len((folder / "vae" / "metrics.jsonl").read_text().splitlines()) == 2
    assert (folder / "ae" / "checkpoint.safetensors").stat().st_mtime_ns == ae_checkpoint
    assert json.loads((folder / "vae" / "eval.json").read_text())["epochs"] == 2
    assert (folder / "comparison.png").exists()
    header = (folder / "compare.md").read_text().splitlines()[0]
    assert header.index("/vae") < header.index("/ae")  # the demo's order, not sorted
    (folder / "index.html").unlink()  # stopped while drawing: every run trained already
    page = finish_demo(folder, data=tiny, progress=False)
    assert "; every run had trained before the stop (timings.json" in page.read_text()
    # A finished demo is left as it is.
    written = page.stat().st_mtime_ns
    assert finish_demo(folder, data=tiny, progress=False) == page
    assert page.stat().st_mtime_ns == written
    # A run stopped before its first checkpoint (its folder holds its config.json alone)
    # is trained again from its start; one whose folder holds more is left alone.
    page.unlink()
    for item in (folder / "ae").iterdir():
        if item.is_dir():
            shutil.rmtree(item)
        elif item.name != "config.json":
            item.unlink()
    finish_demo(folder, data=tiny, progress=False)
    assert len((folder / "ae" / "metrics.jsonl").read_text().splitlines()) == 1
    assert (folder / "ae" / "checkpoint.safetensors").exists() and page.exists()
    page.unlink()
    (folder / "ae" / "checkpoint.safetensors").unlink()
    with pytest.raises(VaelabError, match=f"^{re.escape(str(folder / 'ae'))} has no checkpoint "
                                          f"but holds .* and run vaelab demo --resume "
                                          f"{re.escape(str(folder))} --data-dir 'my data' "
                                          f"-q again$"):
        finish_demo(folder, data=tiny, progress=False, data_dir="my data")
    # What the command line refuses, in one line each.
    assert main(["demo", "--resume", str(folder), "--epochs", "5", "--loss", "bce"]) == 2
    assert "--resume finishes the demo as it was started; leave out --epochs, --loss" in \
        capsys.readouterr().err
    assert main(["demo", "--resume", str(tmp_path / "nothing")]) == 2
    assert "no such folder; --resume names a demo's folder" in capsys.readouterr().err
    assert main(["demo", "--resume", str(folder / "vae"), "--data-dir", "my data"]) == 2
    assert f"{folder / 'vae'} is a run's folder, not a demo's; go on with it with: vaelab " \
           f"train --resume {folder / 'vae'} --data-dir 'my data'\n" in capsys.readouterr().err
    (folder / "demo.json").unlink()
    assert main(["demo", "--resume", str(folder)]) == 2
    assert "not a demo's folder (no demo.json, which vaelab demo writes first)" in \
        capsys.readouterr().err
    # A command that takes one run, given the demo's folder, names the runs in it.
    assert main(["sample", str(folder)]) == 2
    assert f"{folder}: not a run folder, but it holds the runs {folder / 'ae'}, " \
           f"{folder / 'vae'}: name one of them" in capsys.readouterr().err
    # A run's figures, compare's output and a folder of figures are named for what they are
    out = tmp_path / "print"
    out.mkdir()
    (out / "latent.png").touch()
    for given, said in ((folder / "vae" / "figures", f"a folder in the run {folder / 'vae'}: "
                                                     f"name that"),
                        (out, "a folder of figures (vaelab plot --out): name the run they are "
                              "of")):
        assert main(["eval", str(given)]) == 2
        assert f"{given}: not a run folder, but {said}\n" in capsys.readouterr().err
    compared = tmp_path / "cmp"
    compared.mkdir()
    (compared / "compare.md").touch()
    assert main(["plot", str(compared)]) == 2
    assert (f"{compared}: not a run folder, but vaelab compare's output: name the runs it "
            f"compared\n") in capsys.readouterr().err


def test_a_demo_stopped_while_training_says_how_to_finish_it(tiny, tmp_path, monkeypatch,
                                                              caplog):
    import vaelab.demo as demo

    def stopped(configs, outs, ready, **_):
        ready()  # every setting checked: the demo's plan is written
        outs[0].mkdir(parents=True)  # as train_all leaves it: the run folders made
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "train_all", stopped)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        demo.run_demo(tmp_path / "demo", epochs=1, data=tiny, progress=False,
                      dataset="mine.npz", data_dir="my data")
    assert f"{tmp_path / 'demo'}: the demo was stopped; finish it with: vaelab demo --resume " \
           f"{tmp_path / 'demo'} --data-dir 'my data' -q" in caplog.text  # as it was started
    # What --resume reads: the runs in order, their data found from any folder, the device.
    plan = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert list(plan["runs"]) == ["ae", "vae"] and plan["device"] == "cpu"
    assert plan["runs"]["vae"]["data"]["dataset"] == str(tmp_path / "mine.npz")
    plan["device"] = "tpu"
    (tmp_path / "demo" / "demo.json").write_text(json.dumps(plan))
    with pytest.raises(VaelabError, match=r"demo\.json: unknown device 'tpu'"):
        demo.finish_demo(tmp_path / "demo", data=tiny, progress=False)
    plan["runs"]["../elsewhere"] = plan["runs"]["vae"]
    (tmp_path / "demo" / "demo.json").write_text(json.dumps(plan))
    with pytest.raises(VaelabError, match=r"demo\.json: unreadable \('runs' names what is not a "
                                          r"model: \.\./elsewhere\); run the demo again"):
        demo.finish_demo(tmp_path / "demo", data=tiny, progress=False)


def test_a_loss_that_is_no_likelihood_of_the_images_is_said_before_training(tiny, tmp_path,
                                                                             caplog):
    """--loss bce on grey images trained without a word; eval said so only afterwards."""
    said = "likelihood bce on grey images is a cross-entropy: Bernoulli pixels define no " \
           "likelihood"  # from Python: the setting's name; vaelab train says --loss
    for binarize, warned in (("none", True), ("dynamic", False)):
        caplog.clear()
        config = RunConfig(ModelConfig(hidden_dims=(8,), likelihood="bce"),
                           DataConfig(binarize=binarize, train_subset=64), TrainConfig(epochs=1))
        train(config, tmp_path / binarize, data=tiny, progress=False)
        assert (said in caplog.text) == warned, caplog.text


def test_a_cvaes_walk_starts_at_the_first_image_as_its_class_and_ends_at_the_second():
    """The label goes from the one class to the other with the code: the first frame is the
    first image's code decoded as its class, the last the second's as its own."""
    from vaelab.measuring.latent import encode_dataset
    from vaelab.pictures.ink import pictures_of
    from vaelab.pictures.interpolation import walk

    cvae = build_model(ModelConfig(model="cvae", latent_dims=2, hidden_dims=(16,)), (1, 28, 28),
                       classes=10).eval()
    first = next(m for m in cvae.decoder.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 2 + 10
    with torch.no_grad():
        first.weight[:, 2:] *= 100  # the label weighs: each class draws its own image
    ends, labels = torch.rand(2, 1, 28, 28), torch.tensor([3, 8])
    frames = walk(cvae, ends, labels, 5, False)
    codes = encode_dataset(cvae, ends, labels)
    with torch.inference_mode():
        for frame, index in ((0, 0), (-1, 1)):
            alone = torch.nn.functional.one_hot(labels[index:index + 1], 10).float()
            expected = pictures_of(cvae.decode(codes[index:index + 1], alone), False)
            apart = np.abs(frames[frame] - expected[0]).max()
            assert apart < 1e-4, (frame, apart)  # a batch of 5 against one: rounding alone


def test_row_names_draw_accented_letters_and_say_what_the_font_lacks(caplog):
    """vaelab sample drew the classes Äpfel, café and naïve as '□pfel', 'caf□' and 'na□ve'
    (Pillow's own font), where the run's figures drew them whole; and it said nothing of the
    characters that no font of its had."""
    import logging

    from PIL import Image

    from vaelab.pictures.samples import with_row_names

    def drawn(name: str) -> np.ndarray:
        image = with_row_names(Image.new("L", (28, 30), 255), [name], 28, scale=1)
        return np.asarray(image)[:, :-28]  # the margin with the name

    with caplog.at_level(logging.WARNING, logger="vaelab"):
        accented, missing, plain = drawn("é"), drawn("\u4e00"), drawn("e")
    assert not np.array_equal(accented, missing)  # a letter, not the box of a missing one
    assert not np.array_equal(accented, plain)  # its accent drawn
    assert caplog.messages == ["some characters in the class names are not in the font (\u4e00): "
                               "they show as boxes in the samples' row names"]
