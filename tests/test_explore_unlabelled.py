"""Runs on the user's own images without labels, grey and colour, in the explorer (Chromium)
and in the run's page: one colour and no legend, no class control, the shading said to be
missing, hover, drawing and picks working, colour decoded in colour; a page of a labelled and
an unlabelled run side by side; the run's page saying why probes and classifier are missing.
Browser fixtures and helpers come from test_explore_page.py."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from test_explore_page import artifacts, in_page
from test_own_images import make_folder
from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.data import load_dataset
from vaelab.measuring.comparing import Comparison
from vaelab.measuring.evaluation import NO_LABELS, evaluate_run
from vaelab.measuring.scorecard import (
    MEASURES,
    Score,
    Scorecard,
    load_scorecard,
    noted_rows,
)
from vaelab.pictures.explore import export_explorer
from vaelab.pictures.figures import plot_run
from vaelab.pictures.report import write_report
from vaelab.training.loop import train
from vaelab.training.runs import load_run

# name -> (class folders, colour, net)
KINDS = {"rgb-conv": ((), True, "conv"), "grey-mlp": ((), False, "mlp"),
         "labelled": (("circle", "square"), False, "mlp")}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """name -> (run, its data): one epoch of a tiny net on 30 images of 12 x 12, half of them
    held out so that the plane shows 15 codes."""
    folder = tmp_path_factory.mktemp("own-images")
    out = {}
    for name, (classes, colour, arch) in KINDS.items():
        root = make_folder(folder / name, classes=classes, per_class=30 // max(len(classes), 1),
                           colour=colour)
        data = load_dataset(str(root), progress=False, test_fraction=0.5)
        config = RunConfig(model=ModelConfig(arch=arch, hidden_dims=(16,), channels=(4, 8)),
                           data=DataConfig(dataset=str(root), test_fraction=0.5),
                           train=TrainConfig(epochs=1, batch_size=8))
        out[name] = (train(config, folder / f"run-{name}", data=data, progress=False), data)
    return out


def _explored(root, visit, tmp_path):
    """The explorer page, open, of one epoch of a small MLP VAE on the images of ``root``,
    half of them held out."""
    data = load_dataset(str(root), progress=False, test_fraction=0.5)
    config = RunConfig(model=ModelConfig(hidden_dims=(16,)),
                       data=DataConfig(dataset=str(root), test_fraction=0.5),
                       train=TrainConfig(epochs=1, batch_size=8))
    run = train(config, tmp_path / "run", data=data, progress=False)
    return visit(export_explorer(run, tmp_path / "page.html", data=data, progress=False)
                 .as_uri())


def dots(seen, run: int = 0) -> tuple[np.ndarray, int]:
    """(y, x) px of the points canvas's bluish pixels (the codes, drawn in vaelab's one colour
    for unlabelled points, over white and grey), and the count of reddish ones (the orange,
    red, ... of classes). Counted in the page: the canvas's pixels are too many to send."""
    blue, reddish = seen.page.evaluate(
        """(run) => {
            const c = document.querySelectorAll('.points')[run];
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const blue = [];
            let reddish = 0;
            for (let k = 0; k < px.length; k += 4) {
                const [y, x] = [Math.floor(k / 4 / c.width), k / 4 % c.width];
                if (px[k + 2] - px[k] > 45) blue.push([y, x]);
                if (px[k] - px[k + 2] > 45) reddish++;
            }
            return [blue, reddish];
        }""", run)
    return np.asarray(blue).reshape(-1, 2), reddish


def decoded(run, z) -> np.ndarray:
    """What the page should show for code z, (H, W, C): 255 * pixel, grey or colour, as it
    draws the images of a dataset of one's own, decoded with the page's float16 weights."""
    with torch.inference_mode():
        image = in_page(run.model).decode(torch.tensor([z], dtype=torch.float32))[0]
    return (255 * image).round().permute(1, 2, 0).numpy().astype(np.int16)


@pytest.mark.parametrize("name", ["rgb-conv", "grey-mlp"])
def test_an_unlabelled_run_explores_in_one_colour_without_classes(name, made, visit, tmp_path):
    run, data = made[name]
    colour = data.image_shape[0] == 3
    seen = visit(export_explorer(run, tmp_path / "page.html", data=data, progress=False)
                 .as_uri())
    assert seen.page.evaluate("JSON.parse(document.getElementById('explorer-data')"
                              ".textContent).runs[0].classes") == []
    blue, reddish = dots(seen)
    assert len(blue) >= 15 and reddish == 0  # the codes drawn, all in one colour
    assert len(blue) > 15 * 5 * 5  # fifteen codes: squares of 7 px, not the 3 of thousands
    assert seen.part("legend").is_hidden() and seen.part("legend").locator("li").count() == 0
    assert seen.part("class-choice").is_hidden()
    assert seen.part("shade-toggle").is_disabled()
    assert seen.part("shade-note").inner_text() == (
        "Does not apply: the images have no labels, so there is no classifier to shade by.")
    # Hover decodes, in colour for colour images, as PyTorch does with the page's weights.
    box = seen.plane_box()
    seen.page.mouse.move(box["x"] + 300, box["y"] + 300)
    z, shown = seen.state("hover.z"), seen.rgba("decoded")
    expected = decoded(run, z)
    assert shown.shape == (12, 12, 4)
    if colour:
        assert np.abs(shown[:, :, :3] - expected).max() <= 1
        assert np.abs(shown[:, :, 0] - shown[:, :, 2]).max() >= 3  # not grey
    else:
        assert np.abs(shown[:, :, 0] - expected[:, :, 0]).max() <= 1
        assert (shown[:, :, :3] == shown[:, :, :1]).all()  # grey, as it is: not a negative
    # A click on a code picks that test image, named as an image; a drawing is encoded.
    y, x = blue[len(blue) // 2]
    for at in ((x, y), (40, 40)):
        seen.page.mouse.click(box["x"] + at[0] + 0.5, box["y"] + at[1] + 0.5)
    assert seen.state("picks[0].what") == "a test image, "
    assert "undefined" not in seen.part("interp-note").inner_text()
    assert seen.part("strip").is_visible()
    for canvas in ("draw", "recon"):  # before any ink: pixels of 0, drawn black
        assert seen.part(canvas).evaluate("c => getComputedStyle(c).backgroundColor") == \
            "rgb(0, 0, 0)"
    assert seen.part("drawn-z").inner_text().startswith(  # no digit; not 'the grey images'
        f"Draw something like the images of {name} with ")
    seen.draw()
    assert len(seen.state("drawn.mean")) == run.model.latent_dims
    drawn = seen.rgba("draw")  # pixels of 0 black and the stroke's 1 white, as the encoder sees
    assert drawn[0, 0, :3].tolist() == [0, 0, 0] and drawn[:, :, 0].max() == 255
    assert "undefined" not in seen.part("drawn-z").inner_text()
    seen.page.screenshot(path=str(artifacts(tmp_path) / f"unlabelled-{name}.png"), full_page=True)
    seen.check()


def test_a_labelled_and_an_unlabelled_run_side_by_side(made, visit, tmp_path):
    labelled, plain = made["labelled"][0], made["grey-mlp"][0]
    path = export_explorer([labelled, plain], tmp_path / "two.html", progress=False)  # own data
    seen = visit(path.as_uri())
    # long names: the plane names the classes 0 and 1, and the legend says which is which
    assert seen.part("legend", 0).locator("li").all_inner_texts() == ["0 circle", "1 square"]
    assert sorted(mark for mark, _, _ in seen.state("names", 0)) == ["0", "1"]
    assert seen.state("names", 1) == []  # no classes, no names
    assert seen.part("legend", 1).is_hidden()
    assert dots(seen, 1)[1] == 0 and dots(seen, 0)[1] > 0  # orange: the second class
    assert "no labels" in seen.part("shade-note", 1).inner_text()
    seen.hover(250, 250)
    assert seen.state("hover.z", 1) is not None  # one pointer drives both
    seen.draw(1)  # one pad for the runs of 12 x 12 grey images
    assert seen.state("drawn", 0) is not None and seen.state("drawn", 1) is not None
    seen.check()


def test_the_pad_draws_dark_strokes_on_white_for_images_of_dark_strokes_on_paper(visit,
                                                                                   tmp_path):
    """Images that are mostly light (pencil on paper) are encoded from what they look like:
    the pad starts white and its strokes are dark, for the eye and for the encoder."""
    from PIL import Image, ImageOps

    root = make_folder(tmp_path / "pencil", classes=(), per_class=30)
    for path in root.glob("*.png"):
        ImageOps.invert(Image.open(path)).save(path)  # dark squares on light paper
    (root / "notes.txt").write_text("not an image")
    seen = _explored(root, visit, tmp_path)
    # What reading the folder noted stands with the settings, as on the run's page
    noted = seen.part("config-table").locator("tr", has_text="reading the images noted")
    assert noted.inner_text().endswith("left out 1 file that is not an image, such as notes.txt")
    for canvas in ("draw", "recon"):  # no black squares before any stroke
        assert seen.part(canvas).evaluate("c => getComputedStyle(c).backgroundColor") == \
            "rgb(255, 255, 255)"
    # One's own images are not MNIST's, centred by their mass: a drawing is encoded as drawn.
    assert "it is encoded as drawn" in seen.part("drawn-z").inner_text()
    seen.draw()
    pad = seen.rgba("draw")
    assert pad[0, 0, :3].tolist() == [255, 255, 255] and pad[:, :, 0].min() == 0
    pixels = np.array(seen.state("drawn.pixels")).reshape(12, 12)  # what the encoder got
    assert pixels[0, 0] == 1 and pixels.min() == 0 and (pixels > 0.5).mean() > 0.5
    assert np.abs(pixels - pad[:, :, 0] / 255).max() <= 1 / 255  # where it was drawn
    seen.check()


def test_the_explorer_says_why_figures_are_missing(made, visit, tmp_path):
    run, data = made["grey-mlp"]
    evaluate_run(run, data, k=5, samples=2, progress=False)
    seen = visit(export_explorer(run, tmp_path / "page.html", data=data, progress=False)
                 .as_uri())
    table = seen.part("eval-table").inner_text()
    notes = seen.part("eval-notes").locator("li").all_inner_texts()
    number = notes.index(next(note for note in notes if note.endswith(NO_LABELS))) + 1
    assert f"linear probe accuracy\tn/a [{number}]" in table
    assert f"samples: mean top-class confidence\tn/a [{number}]" in table
    seen.check()


# ---------------------------------------------------------------------------------------------
# The run's page.


def test_the_run_page_of_unlabelled_images_says_why_and_promises_no_classes(made):
    run, data = made["grey-mlp"]
    evaluate_run(run, data, k=5, samples=2, progress=False)
    page = plot_run(run, data, progress=False)["page"].read_text()
    card = load_scorecard(run.path)
    _, notes = noted_rows([card], [(label, [value]) for label, value in card.rows()])
    number = notes.index(NO_LABELS) + 1
    for label in ("linear probe accuracy", "samples: mean top-class confidence"):  # the mark
        assert (f'<tr><th scope="row">{label}</th>'
                f'<td>n/a <a href="#note-{number}">[{number}]</a></td>'
                f'</tr>') in page  # a link to the note
    assert f'<li id="note-{number}">[{number}] {NO_LABELS}</li>' in page
    assert "all in one colour, as the images have no labels" in page
    assert "coloured by its class" not in page and "One test image per class" not in page
    assert "the first ten, as the images have no classes" in page


def test_a_page_of_labelled_and_unlabelled_runs_words_both(made, tmp_path):
    runs = []
    for name in ("labelled", "grey-mlp"):
        run = load_run(shutil.copytree(made[name][0].path, tmp_path / name))
        run.figures_dir.mkdir(exist_ok=True)
        (run.figures_dir / "latent.png").touch()
        runs.append(run)
    text = write_report(runs, tmp_path / "index.html", title="both").read_text()
    assert "coloured by its class (in one colour where the images have no labels)" in text


def _card(run: str, **missing: str) -> Scorecard:
    """A scorecard with every measure at 0.5 but those ``missing``, with their reasons."""
    metrics = {measure.key: Score(0.5) for measure in MEASURES}
    metrics.update({key: Score(None, note=why) for key, why in missing.items()})
    return Scorecard(run=run, model="vae", latent_dims=2, epochs=1, split="test", images=10,
                     k=5, samples=2, seed=0, likelihood={"name": "sse", "description": ""},
                     classifier=None, metrics=metrics)


def test_missing_figures_are_numbered_by_their_reason_across_runs():
    plain = _card("a/plain", linear_probe=NO_LABELS, knn=NO_LABELS)
    digits = _card("a/digits", nll="an AE has no likelihood bound")
    del digits.metrics["kl"]  # an eval.json of an older vaelab
    both = Comparison([plain, digits])
    rows, notes = noted_rows(both.cards, both.rows())
    assert notes == ["not measured", "an AE has no likelihood bound", NO_LABELS]
    cells = dict(rows)
    assert cells["KL(q(z|x) ‖ p(z)) (nats)"] == ["0.50", "n/a [1]"]
    assert cells["NLL, importance-weighted bound, k = 5 (nats)"] == ["0.50", "n/a [2]"]
    assert cells["linear probe accuracy"] == cells["5-nearest-neighbour accuracy"] == [
        "n/a [3]", "0.5000"]


def test_an_ae_of_unlabelled_images_misses_its_samples_for_want_of_a_prior(made, tmp_path):
    """Two reasons apply to an AE's sample figures; the one of the model is told, since
    labels would not bring them back."""
    from vaelab.measuring.evaluation import NO_PRIOR

    run, data = made["grey-mlp"]
    config = RunConfig(model=ModelConfig(model="ae", hidden_dims=(16,)),
                       data=DataConfig(dataset=run.config.data.dataset, test_fraction=0.5),
                       train=TrainConfig(epochs=1, batch_size=8))
    ae = train(config, tmp_path / "ae", data=data, progress=False)
    notes = {key: score.note for key, score in
             evaluate_run(ae, data, progress=False).metrics.items()}
    assert notes["sample_confidence"] == notes["prior_grid_digits"] == NO_PRIOR
    assert notes["grid_digits"] == NO_LABELS  # the codes' grid needs the labels alone


def test_the_explorers_advice_for_a_folder_without_a_classifier_is_a_command_that_works(made):
    """It names the folder, quoted for the shell, and --image-size: the run may have brought
    its images to that size, and square ones as they are keep their size under it."""
    from vaelab.pictures.explore_shading import confidence_shading

    run, data = made["labelled"]
    missing = confidence_shading(run.model, data, None, None)["missing"]
    assert missing.endswith(f"vaelab classifier train --dataset {data.name} --image-size 12 "
                            f"(or vaelab eval of the run) makes one, shown once the page is "
                            f"made again")


def test_a_class_without_a_test_image_is_not_in_the_legend(visit, tmp_path):
    """A folder whose test/ lacks a class listed that class in the plane's legend, with no
    point of its colour anywhere (the figures' legends leave it out too)."""
    make_folder(tmp_path / "split" / "train", classes=("circle", "square", "star"), per_class=6)
    make_folder(tmp_path / "split" / "test", classes=("circle", "star"), per_class=3)
    seen = _explored(tmp_path / "split", visit, tmp_path)
    assert seen.part("legend").locator("li").all_inner_texts() == ["0 circle", "2 star"]
    seen.check()


def test_classes_past_twenty_are_drawn_in_another_shape_in_the_codes_and_the_legend(
        visit, tmp_path):
    """Twenty-five classes drew species_20 to species_24 exactly as species_00 to species_04,
    squares of the same colours; each twenty more take another shape."""
    classes = tuple(f"species_{c:02d}" for c in range(61))
    root = make_folder(tmp_path / "many", classes=classes, per_class=2)
    seen = _explored(root, visit, tmp_path)
    swatches = seen.part("legend").locator(".swatch")
    assert swatches.count() == 61
    shapes = [swatches.nth(c).evaluate("s => [s.className, getComputedStyle(s).clipPath, "
                                       "getComputedStyle(s).borderRadius, "
                                       "getComputedStyle(s).backgroundColor]")
              for c in (0, 20, 40, 60)]
    assert [shape[0] for shape in shapes] == ["swatch square", "swatch triangle",
                                              "swatch diamond", "swatch circle"]
    assert shapes[0][1] == shapes[3][1] == "none" and shapes[3][2] == "50%"
    assert shapes[1][1] != shapes[2][1] and shapes[1][1].startswith("polygon(")
    assert len({shape[3] for shape in shapes}) == 1  # the colour again, in another shape
    seen.page.screenshot(path=str(artifacts(tmp_path) / "sixty-one-classes.png"), full_page=True)
    seen.check()
