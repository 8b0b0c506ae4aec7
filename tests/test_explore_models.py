"""The explorer's page runs any decoder, in Chromium: for every architecture, model and channel
count, the page's nets against PyTorch's with the same (float16) weights; how far float16
weights move the pixels; colour; a conditional model's class; several runs on one page; the
classifier's confidence layer. Fixtures and helpers come from test_explore_page.py."""

from __future__ import annotations

import base64
import itertools
import json

import numpy as np
import pytest
import torch

from test_explore_page import artifacts, in_page, paper, trained_runs
from vaelab.config import ModelConfig, RunConfig, TrainConfig
from vaelab.data import DATASETS, ImageData
from vaelab.measuring.classifier import train_judge
from vaelab.measuring.latent import encode_dataset
from vaelab.models import MODELS, build_model
from vaelab.nets import NETS
from vaelab.pictures.explore import export_explorer
from vaelab.training.loop import train
from vaelab.training.runs import Run

SHAPES = [(1, 28, 28), (3, 13, 9)]  # grey, and colour of odd sizes (output padding 1)
DECODE = "([zs, ys]) => zs.map((z, k) => window.explorer.decode(z, ys[k]))"
ENCODE = "([xs, ys]) => xs.map((x, k) => window.explorer.encode(x, ys[k]))"


@pytest.fixture(scope="module")
def runs(tiny, tmp_path_factory):
    return trained_runs(tiny, tmp_path_factory.mktemp("explore-runs"))


def random_data(shape: tuple[int, int, int], n: int = 64) -> ImageData:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), generator=g)
    return ImageData("mnist", DATASETS["mnist"].classes, images, labels, images, labels)


def fresh_run(kind: str, arch: str, shape: tuple[int, int, int], folder) -> Run:
    """A small model with fresh weights, doubled so that its pixels spread over [0, 1]; colour
    runs take the learned-variance Gaussian, whose mean is a clamp rather than a sigmoid."""
    config = ModelConfig(model=kind, arch=arch, hidden_dims=(16,), channels=(4, 8),
                         likelihood="gaussian" if shape[0] == 3 else "sse")
    torch.manual_seed(0)
    model = build_model(config, shape, 10).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2)
    return Run(folder, RunConfig(model=config), model)


def rgb(model, z, y=None) -> np.ndarray:
    """What the page shows of a colour decoding: 255 * pixel, rounded, as (H, W, 3)."""
    with torch.inference_mode():
        label = None if y is None else torch.tensor([y])
        image = model.decode(torch.tensor([z], dtype=torch.float32), label)[0]
    return (255 * image).round().permute(1, 2, 0).numpy().astype(np.int16)


# ---------------------------------------------------------------------------------------------
# The nets.


@pytest.mark.parametrize(("kind", "arch", "shape"), list(itertools.product(MODELS, NETS, SHAPES)))
def test_the_page_runs_the_nets_as_pytorch_does(kind, arch, shape, visit, tmp_path):
    run = fresh_run(kind, arch, shape, tmp_path / "run")
    seen = visit(export_explorer(run, tmp_path / "page.html", random_data(shape)).as_uri())
    model, conditional = in_page(run.model), run.model.conditional
    u = torch.linspace(-3, 3, 5)
    z = torch.cartesian_prod(u, u)  # (25, 2)
    y = torch.nn.functional.one_hot(torch.arange(25) % 10, 10).float()
    y[-1] = 0.3 * y[2] + 0.7 * y[5]  # a mix of two classes, as along an interpolation
    labels = y.tolist() if conditional else [None] * len(z)
    got = torch.tensor(seen.page.evaluate(DECODE, [z.tolist(), labels]))
    with torch.inference_mode():
        want = model.decode(z, y if conditional else None).flatten(1)  # (25, C * H * W)
    assert want.max() - want.min() > 0.7, "the pixels do not spread over [0, 1]"
    assert (got - want).abs().max() <= 1e-4
    x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(1))
    got = seen.page.evaluate(ENCODE, [x.flatten(1).tolist(), labels[:4]])
    with torch.inference_mode():
        code = model.encode(x, y[:4] if conditional else None)
    mean, std = (code.mean, code.std) if model.has_posterior else (code, None)
    assert (torch.tensor([g["mean"] for g in got]) - mean).abs().max() <= 1e-4
    if std is not None:
        assert (torch.tensor([g["std"] for g in got]) - std).abs().max() <= 1e-4
    seen.check()


def _half_precision_gap(run, data, visit, path) -> float:
    """The largest difference between a pixel the page decodes and the float32 model's, over
    a grid spanning the run's codes."""
    seen = visit(export_explorer(run, path, data).as_uri())
    codes = encode_dataset(run.model, data.test_images[:1000])
    low, high = codes.min(dim=0).values, codes.max(dim=0).values
    z = torch.cartesian_prod(*(torch.linspace(a, b, 15) for a, b in zip(low, high, strict=True)))
    got = torch.tensor(seen.page.evaluate(DECODE, [z.tolist(), [None] * len(z)]))
    with torch.inference_mode():
        want = run.model.decode(z).flatten(1)
    seen.check()
    return (got - want).abs().max().item()


def test_half_precision_weights_move_pixels_by_less_than_two_levels(tiny, visit, tmp_path):
    config = RunConfig(model=ModelConfig(), train=TrainConfig(epochs=1, batch_size=64))
    run = train(config, tmp_path / "vae", data=tiny, progress=False)  # the tutorial's layers
    gap = _half_precision_gap(run, tiny, visit, tmp_path / "page.html")
    assert 0 < gap < 2 / 255, f"{255 * gap:.2f} levels of 255"


@pytest.mark.slow
def test_half_precision_weights_move_the_tutorial_vaes_pixels_by_less_than_two_levels(
        mnist, visit, tmp_path):
    config = RunConfig(model=ModelConfig(), train=TrainConfig(epochs=5))
    run = train(config, tmp_path / "vae", data=mnist, progress=False)
    gap = _half_precision_gap(run, mnist, visit, tmp_path / "page.html")
    assert 0 < gap < 2 / 255, f"{255 * gap:.2f} levels of 255"


@pytest.mark.parametrize("arch", list(NETS))
def test_colour_runs_show_in_colour(arch, visit, tmp_path):
    shape = (3, 13, 9)
    run = fresh_run("vae", arch, shape, tmp_path / "run")
    model = in_page(run.model)
    seen = visit(export_explorer(run, tmp_path / "page.html", random_data(shape)).as_uri())
    z, _ = seen.hover(200, 300)
    shown = seen.rgba("decoded")[:, :, :3]
    assert np.abs(shown - rgb(model, z)).max() <= 1
    assert np.abs(shown[:, :, 0] - shown[:, :, 1]).max() > 20, "grey, not colour"
    box = seen.plane_box()
    for x, y in ((90, 90), (500, 480)):
        seen.page.mouse.click(box["x"] + x, box["y"] + y)
    first = seen.state("picks[0].z")
    assert np.abs(seen.rgba("strip", 0, 0, 9, 13)[:, :, :3] - rgb(model, first)).max() <= 1
    seen.draw()
    drawn = seen.state("drawn")
    assert np.abs(seen.rgba("recon")[:, :, :3] - rgb(model, drawn["mean"])).max() <= 1
    scales = seen.page.evaluate("[...document.querySelectorAll('canvas.pixels')].map("
                                "(c) => [c.clientWidth / c.width, c.clientHeight / c.height])")
    assert all(x == y and x == int(x) for x, y in scales), "pixels are not square"
    seen.page.screenshot(path=str(artifacts(tmp_path) / f"explorer-colour-{arch}.png"))
    seen.check()


# ---------------------------------------------------------------------------------------------
# A conditional model's class.


def _screen(seen, z, run: int = 0) -> tuple[float, float]:
    box = seen.plane_box(run)
    x, y = seen.state(f"toScreen({[float(v) for v in z]})", run)
    return box["x"] + x, box["y"] + y


def test_a_conditional_run_draws_encodes_and_walks_as_the_chosen_class(runs, tiny, visit,
                                                                      tmp_path):
    run, page_file = runs["cvae"], tmp_path / "page.html"
    model = in_page(run.model)
    seen = visit(export_explorer(run, page_file, tiny).as_uri())
    page = seen.page
    assert seen.part("class-select").locator("option").all_inner_texts() == list(tiny.classes)
    # Two test images of different classes, picked by their codes (given their labels).
    order = torch.randperm(len(tiny.test_images), generator=torch.Generator().manual_seed(0))
    labels = tiny.test_labels[order]
    i, j = 0, int((labels != labels[0]).nonzero()[0])
    codes = encode_dataset(run.model, tiny.test_images[order[[i, j]]], labels[[i, j]])
    for code in codes:
        page.mouse.click(*_screen(seen, code))
    a, b = (int(c) for c in labels[[i, j]])
    assert f"The label goes from class {a} to class {b}, mixed along the line." in (
        seen.part("interp-note").inner_text())
    t = 4 / 9  # the fifth of ten frames
    with torch.inference_mode():
        y = torch.nn.functional.one_hot(torch.tensor([a, b]), 10).float()
        z, mix = (1 - t) * codes[0] + t * codes[1], (1 - t) * y[0] + t * y[1]
        middle = model.decode(z[None], mix[None])[0, 0]
    assert np.abs(seen.pixels("strip", 4 * 29) - (255 * (1 - middle)).round().numpy()).max() <= 1
    assert np.abs(seen.pixels("strip", 0) - paper(run, codes[0].tolist(), a)).max() <= 1
    # The class chosen: the decoder at the pointer draws it, the drawing is encoded given it.
    page.select_option(".class-select", "7")
    seen.zoom_out()
    z, shown = seen.hover(200, 260)
    assert np.abs(shown - paper(run, z, 7)).max() <= 1
    assert seen.part("pointer-z").inner_text().endswith(" as 7")
    seen.draw()
    drawn = seen.state("drawn")
    with torch.inference_mode():
        posterior = model.encode(torch.tensor(drawn["pixels"]).reshape(1, 1, 28, 28),
                                 torch.tensor([7]))
    torch.testing.assert_close(torch.tensor(drawn["mean"]), posterior.mean[0], atol=1e-4,
                               rtol=1e-4)
    # A line that starts at a place, not a test image, says the class it is drawn as, and
    # which class that is when another is chosen before it ends.
    box = seen.plane_box()
    page.mouse.click(box["x"] + 12, box["y"] + 12)
    note = seen.part("interp-note").inner_text()
    assert note.startswith("Start: z = (") and note.endswith(
        ", drawn as class 7; now click where the line ends."), note
    page.select_option(".class-select", "3")
    assert seen.part("interp-note").inner_text().endswith(", drawn as class 3; now click where "
                                                          "the line ends.")
    seen.check()


# ---------------------------------------------------------------------------------------------
# Several runs on one page.


def test_one_pointer_drives_several_runs(runs, tiny, visit, tmp_path):
    ae, vae = runs["ae"], runs["vae"]
    seen = visit(export_explorer([ae, vae], tmp_path / "two.html", tiny).as_uri())
    page = seen.page
    assert page.title() == "vaelab explorer: ae, vae"
    assert page.locator(".run").count() == 2 and page.locator("#together").is_visible()
    assert seen.part("run-title", 1).inner_text().startswith("vae: VAE with 2 latent dimensions")
    # Side by side, each says its test terms, which the two share but for the KL (it said each
    # one's loss, the AE's its reconstruction, the VAE's with its KL added), and what a squared
    # error leaves out, which the measured nats under them hold (they read as 449 nats apart)
    for k, run in enumerate((ae, vae)):
        test = run.metrics[-1]["test"]
        assert run.config.model.likelihood == "sse"
        terms = f"test reconstruction {test['recon']:.2f} (without the squared error's " \
                f"constant of 448.7 nats for 784 pixels)" + (
            "" if test["kl"] is None else f" + KL {test['kl']:.2f}") + " per image."
        assert seen.part("run-title", k).inner_text().endswith(terms)
    assert runs["ae"].metrics[-1]["test"]["kl"] is None
    # A click on a test image picks that image in both runs: each its own code of it.
    first = torch.randperm(len(tiny.test_images), generator=torch.Generator().manual_seed(0))[0]
    codes = [encode_dataset(run.model, tiny.test_images[first:first + 1])[0] for run in (ae, vae)]
    page.mouse.click(*_screen(seen, codes[0], run=0))
    for k, code in enumerate(codes):
        assert seen.state("picks[0].what", k) == f"a test {int(tiny.test_labels[first])}, "
        torch.testing.assert_close(torch.tensor(seen.state("picks[0].z", k)), code)
    # The pointer over either plane: both decode the same plane coordinates, each in its own
    # plane, and the other plane marks them with a cross. (The pointer goes where the other
    # run's code of that test image is, in the hovered plane zoomed out: in view in both.)
    for hovered, other in ((0, 1), (1, 0)):
        seen.zoom_out(run=hovered)
        u, v = codes[other].tolist()
        seen.hover(*seen.state(f"planeToScreen({u}, {v})", hovered), run=hovered)
        here, there = seen.state("hover", hovered), seen.state("hover", other)
        assert (here["u"], here["v"]) == (there["u"], there["v"])
        for k, run in ((hovered, (ae, vae)[hovered]), (other, (ae, vae)[other])):
            z = seen.state("hover.z", k)
            assert np.abs(seen.pixels("decoded", run=k) - paper(run, z)).max() <= 1
        x, y = seen.state(f"planeToScreen({here['u']}, {here['v']})", other)
        assert seen.rgba("overlay", round(x) + 4, round(y), 1, 1, run=other)[0, 0, 3] > 0
        x, y = seen.state(f"planeToScreen({here['u']}, {here['v']})", hovered)
        assert seen.rgba("overlay", round(x) + 4, round(y), 1, 1, run=hovered)[0, 0, 3] == 0
    # The mouse gone, both planes mark where their decoders stand, the one it left too.
    page.mouse.move(1, 1)
    for k in (0, 1):
        x, y = seen.state(f"planeToScreen({here['u']}, {here['v']})", k)
        assert seen.rgba("overlay", round(x) + 4, round(y), 1, 1, run=k)[0, 0, 3] > 0
    # A drawing on one pad is encoded by both runs.
    seen.draw(run=0)
    drawn = [seen.state("drawn", k) for k in (0, 1)]
    assert drawn[0]["pixels"] == drawn[1]["pixels"]
    with torch.inference_mode():
        pixels = torch.tensor(drawn[1]["pixels"]).reshape(1, 1, 28, 28)
        posterior = in_page(vae.model).encode(pixels)
    torch.testing.assert_close(torch.tensor(drawn[1]["mean"]), posterior.mean[0], atol=1e-4,
                               rtol=1e-4)
    page.screenshot(path=str(artifacts(tmp_path) / "explorer-two-runs.png"), full_page=True)
    # Under 1200 px the two stay side by side, their planes shrunk; under 2 x 300 px, stacked.
    for width, beside in ((800, True), (560, False)):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_function(f"document.querySelector('.plane-box').clientWidth < {width / 2}"
                               if beside else "document.querySelector('.plane-box').clientWidth"
                               f" > {width / 2}")
        planes = [page.locator(".plane-section").nth(k).bounding_box() for k in (0, 1)]
        assert (planes[0]["y"] == planes[1]["y"]) == beside, (width, planes)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    seen.check()


def test_three_runs_side_by_side_fit_the_window_with_their_interpolations(runs, tiny, visit,
                                                                          tmp_path):
    three = [runs["ae"], runs["vae"], runs["cvae"]]
    seen = visit(export_explorer(three, tmp_path / "three.html", tiny).as_uri())
    box = seen.plane_box()
    for x, y in ((0.2, 0.3), (0.8, 0.7)):  # two clicks: every run shows its strip
        seen.page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    widths = seen.page.evaluate("""[...document.querySelectorAll('canvas.strip')].map(
        (c) => c.getBoundingClientRect().right)""")
    window = seen.page.evaluate("document.documentElement.clientWidth")
    assert len(widths) == 3 and max(widths) <= window, (widths, window)
    assert seen.page.evaluate("document.documentElement.scrollWidth") <= window
    # The shading label wraps with its threshold inline, after "p ≥" on its last line
    gaps = seen.page.evaluate("""[...document.querySelectorAll('.shade-box label')].map((l) =>
        l.getBoundingClientRect().bottom
        - l.querySelector('.shade-threshold').getBoundingClientRect().bottom)""")
    assert len(gaps) == 3 and max(gaps) < 4, gaps
    seen.check()


# ---------------------------------------------------------------------------------------------
# The classifier's confidence layer.


def _fake_judgement(model, images: torch.Tensor) -> torch.Tensor:
    """Sure (p = 1) of the images brighter than the median, unsure (p = 1/2) of the others."""
    brightness = images.float().flatten(1).mean(dim=1)
    p = torch.where(brightness > brightness.median(), 1.0, 0.5)
    return torch.stack([p, 1 - p], dim=1)


def test_the_confidence_layer_shades_the_sure_cells_and_says_when_it_does_not_apply(
        runs, tiny, visit, tmp_path, monkeypatch):
    monkeypatch.setattr("vaelab.pictures.explore_shading.CELLS", 16)
    monkeypatch.setattr("vaelab.pictures.explore_shading.predict", _fake_judgement)
    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: tmp_path / "cache")
    train_judge(tiny, epochs=1, progress=False)
    path = export_explorer(runs["vae5"], tmp_path / "page.html", tiny)
    payload = path.read_text().split('type="application/json">')[1].split("</script>")[0]
    shading = json.loads(payload)["runs"][0]["shading"]
    flags = np.frombuffer(base64.b64decode(shading["confident"]), np.uint8).reshape(16, 16)
    seen = visit(path.as_uri())
    off = seen.rgba("points")
    toggle, note = seen.part("shade-toggle"), seen.part("shade-note")
    toggle.check()
    on = seen.rgba("points")
    assert note.inner_text().startswith(f"{100 * flags.mean():.0f}% of the 16 × 16 cells of the "
                                        f"first view; the classifier scores ")
    u0, u1, v0, v1 = shading["box"]
    cells = list(itertools.product(range(16), range(16)))
    centres = [(u0 + (c + 0.5) * (u1 - u0) / 16, v1 - (r + 0.5) * (v1 - v0) / 16)
               for r, c in cells]
    on_screen = seen.page.evaluate(  # one call for the 256 cells, not 256 round trips
        "(uvs) => uvs.map(([u, v]) => window.explorer.runs[0].planeToScreen(u, v))", centres)
    tried = {0: 0, 1: 0}
    for (r, c), point in zip(cells, on_screen, strict=True):
        x, y = (round(p) for p in point)
        if off[y, x, 3] == 0:  # paper only: no point, no grid line
            assert (on[y, x] != off[y, x]).any() == bool(flags[r, c]), (r, c)
            tried[int(flags[r, c])] += 1
            if flags[r, c]:  # a light grey: a green shade read as the 2s' (green) ground
                assert len(set(on[y, x, :3])) == 1 and on[y, x, 3] < 64, on[y, x]
    assert min(tried.values()) >= 5, tried
    seen.page.select_option(".plane-kind", "dims")
    assert note.inner_text() == ("Does not apply now: it was computed for the plane the page "
                                 "opens with; choose that plane again.")
    assert not seen.state("shading.on")
    seen.page.select_option(".plane-kind", "pca")
    assert seen.state("shading.on") and np.array_equal(seen.rgba("points"), on)
    slider = seen.page.locator(".sliders input[type=range]").nth(0)
    slider.fill(slider.get_attribute("max"))
    assert note.inner_text() == ("Does not apply now: it was computed with the other "
                                 "coordinates at their start; reset them.")
    assert np.array_equal(seen.rgba("points"), off)
    seen.part("sliders-reset").click()
    assert seen.state("shading.on")
    slider.focus()  # moved there and back by hand: at its start again, where the shading holds
    for key in ("ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft"):
        seen.page.keyboard.press(key)
    assert seen.state("shading.on"), note.inner_text()
    seen.check()


def test_without_a_classifier_the_layer_says_so(runs, tiny, visit, tmp_path, monkeypatch):
    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: tmp_path / "cache")
    monkeypatch.setattr("vaelab.measuring.classifier.shipped_path", lambda dataset: None)
    seen = visit(export_explorer(runs["vae"], tmp_path / "page.html", tiny).as_uri())
    assert seen.part("shade-toggle").is_disabled()
    assert seen.part("shade-note").inner_text() == (
        "Does not apply: no classifier of the MNIST images (28 x 28) ships with vaelab or was "
        "trained here; "
        "vaelab classifier train --dataset mnist (or vaelab eval of the run) makes one, shown "
        "once the page is made again.")
    seen.check()


def test_the_plane_shows_what_it_decodes_where_the_decoder_is_out_of_sight(runs, tiny, visit,
                                                                          tmp_path):
    """Two runs side by side in a window 800 px high: their decoders stood below the planes,
    out of sight, so that hovering showed nothing decoded. Each plane shows its decoding in a
    corner away from the pointer, the same pixels, and none once the pointer leaves."""
    seen = visit(export_explorer([runs["ae"], runs["vae"]], tmp_path / "two.html", tiny).as_uri())
    seen.page.set_viewport_size({"width": 1280, "height": 800})
    box = seen.plane_box(0)
    assert seen.part("decoded", 0).bounding_box()["y"] > 800  # below the window
    seen.page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.5 * box["height"])
    for k in (0, 1):
        inset = seen.part("inset", k)
        assert inset.is_visible()
        assert np.array_equal(seen.rgba("inset", run=k), seen.rgba("decoded", run=k))
        shown, plane = inset.bounding_box(), seen.plane_box(k)
        assert shown["x"] > plane["x"] + plane["width"] / 2  # right, away from the pointer
        assert seen.page.evaluate(  # a whole number of times its pixels
            f"(c => c.clientWidth % c.width)(document.querySelectorAll('.inset')[{k}])") == 0
    # The pointer in the upper right: the image goes below it, in the lower right (the left
    # and lower edges hold the axes' numbers, which it stands clear of)
    seen.page.mouse.move(box["x"] + 0.75 * box["width"], box["y"] + 0.25 * box["height"])
    shown = seen.part("inset", 0).bounding_box()
    assert shown["x"] > box["x"] + box["width"] / 2 and shown["y"] > box["y"] + box["height"] / 2
    seen.page.mouse.move(box["x"] - 30, box["y"] - 30)  # off the plane
    assert not seen.part("inset", 0).is_visible() and not seen.part("inset", 1).is_visible()
    # One run in a wide window has its decoder beside the plane: no inset
    alone = visit(export_explorer(runs["vae"], tmp_path / "one.html", tiny).as_uri())
    alone.page.set_viewport_size({"width": 1280, "height": 800})
    plane = alone.plane_box()
    alone.page.mouse.move(plane["x"] + 100, plane["y"] + 100)
    assert alone.state("hover") is not None and not alone.part("inset").is_visible()
    seen.check()
    alone.check()


def test_a_pan_decodes_the_point_under_the_pointer_and_labels_stay_on_the_plane(runs, tiny,
                                                                              visit, tmp_path):
    """After a drag the decoder showed the point one move ahead of the pointer, until the
    mouse moved again; a pick's label near the right edge was cut ('en'); a pick 5 px inside
    the corner was drawn as an arrow to a place out of view."""
    seen = visit(export_explorer(runs["vae"], tmp_path / "one.html", tiny).as_uri())
    box = seen.plane_box()
    page = seen.page
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 400, box["y"] + 350, steps=4)
    page.mouse.up()
    hover = seen.state("hover")
    x, y = seen.state(f"planeToScreen({hover['u']}, {hover['v']})")
    assert abs(x - 400) < 1 and abs(y - 350) < 1
    size = box["width"]

    def end_after(x: float, y: float) -> tuple[float, float]:  # where the second pick stands
        page.mouse.click(box["x"] + 40, box["y"] + y)
        page.mouse.click(box["x"] + x, box["y"] + y)
        assert page.evaluate("window.explorer.picks.length") == 2
        return page.evaluate("window.explorer.toScreen(window.explorer.picks[1].z)")

    # 20 px from the right edge: "end" above and to the left of its square, not cut off on
    # the right (text pixels there, clear of the square and of the line from the start)
    ex, ey = end_after(size - 20, size / 2)
    assert ex > size - 36  # where the label's usual place, to the right, runs off the plane
    label = seen.rgba("overlay", round(ex - 29), round(ey - 20), 19, 14)
    assert (label[:, :, 3] > 0).sum() > 15
    # 3 px from the corner: its square, edged in white, where it is, not an arrow of one out
    # of view (which has no white)
    ex, ey = end_after(size - 3, size - 3)
    assert ex > size - 8 and ey > size - 8
    edge = seen.rgba("overlay", round(ex - 6), round(ey), 1, 1)[0, 0]
    assert edge[3] > 200 and min(edge[:3]) > 200, edge
    seen.check()


def test_planes_side_by_side_stand_level_whatever_stands_above_them(runs, tiny, visit,
                                                                      tmp_path):
    """A CVAE's row of its class, a plane's choice of axes, pushed their planes about 28 px
    below their neighbours', so that a cross and the pointer stood at other heights."""
    page_file = export_explorer([runs["vae"], runs["cvae"], runs["vae5"]], tmp_path / "3.html",
                                tiny)
    seen = visit(page_file.as_uri())
    page = seen.page
    page.set_viewport_size({"width": 1280, "height": 900})

    def tops() -> list[float]:
        page.wait_for_timeout(100)  # a frame or two: the planes are levelled in the next
        return [round(seen.plane_box(k)["y"], 1) for k in range(3)]

    assert seen.part("class-choice", 1).is_visible() and seen.part("plane-choice", 2).is_visible()
    assert len(set(tops())) == 1
    seen.part("plane-kind", 2).select_option("dims")  # its row grows another choice
    assert seen.part("axis-choice", 2).is_visible() and len(set(tops())) == 1
    page.set_viewport_size({"width": 900, "height": 900})  # two in a row, one below
    first, second, third = tops()
    assert first == second and third > first + 300
    seen.check()
