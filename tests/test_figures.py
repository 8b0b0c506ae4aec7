import base64
import dataclasses
import html
import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.errors import VaelabError
from vaelab.measuring.latent import (
    GRID,
    LatentPlane,
    Manifold,
    bounds,
    grid_points,
    interpolate,
    latent_picture,
    linear_grid,
    on_one_scale,
    prior_quantiles,
    tile,
    untile,
)
from vaelab.pictures import plots
from vaelab.pictures.comparison import LatentView, comparison_figure, draw_comparison
from vaelab.pictures.figures import plot_run, write_run_figures
from vaelab.pictures.interpolation import GIF_FRAMES, interpolation, interpolation_pair
from vaelab.pictures.names import in_a_column
from vaelab.pictures.report import write_report
from vaelab.pictures.saving import GIF_SIDE, figure_bytes
from vaelab.training.loop import train

# ---------------------------------------------------------------------------------------------
# Geometry of the latent plane.


def flat(title: str) -> str:
    """A figure's title in one line: its lines are broken where they would be wider than it."""
    return " ".join(title.split())


def test_plane_of_a_2d_space_is_the_space_itself():
    codes = torch.randn(50, 2)
    plane = LatentPlane.fit(codes)
    assert torch.equal(plane.project(codes), codes)
    assert not plane.is_pca
    assert plane.axis_labels() == ("$z_1$", "$z_2$")


def test_pca_plane_of_a_larger_space():
    g = torch.Generator().manual_seed(0)
    # Most variance along e_3, then e_1: the plane must find those two axes in that order.
    codes = torch.randn(2000, 5, generator=g) * torch.tensor([2.0, 0.1, 5.0, 0.1, 0.1]) + 3
    plane = LatentPlane.fit(codes)
    assert plane.is_pca
    torch.testing.assert_close(plane.axes @ plane.axes.T, torch.eye(2), atol=1e-5, rtol=0)
    assert abs(plane.axes[0, 2].item()) > 0.99 and abs(plane.axes[1, 0].item()) > 0.99
    points = torch.randn(10, 2, generator=g)
    torch.testing.assert_close(plane.project(plane.lift(points)), points, atol=1e-4, rtol=0)
    first, second = plane.explained
    assert 0.8 < first < 0.9 and second < first and first + second <= 1
    assert plane.axis_labels()[0].startswith("PC 1 (8")
    # Each axis points the way its largest component does, in the figures as in the explorer,
    # whichever way round the codes come
    from vaelab.pictures.explore import _pca

    for flipped in (codes, -codes):
        plane = LatentPlane.fit(flipped)
        assert plane.axes[0, 2].item() > 0.99 and plane.axes[1, 0].item() > 0.99
        explorer = torch.tensor(_pca(flipped)["axes"][:2], dtype=torch.float32)
        torch.testing.assert_close(explorer, plane.axes, atol=1e-4, rtol=0)


def test_linear_grid_keeps_tiles_square_and_covers_the_box():
    u, v = linear_grid((-1.0, 9.0, 0.0, 4.0), 21)
    assert len(u) == 21 and len(v) == 9
    assert torch.allclose(u.diff(), torch.full((20,), 0.5))
    assert torch.allclose(v.diff(), torch.full((8,), 0.5))
    assert u[0] <= -1 and u[-1] >= 9 and v[0] <= 0 and v[-1] >= 4


def test_grid_points_run_row_by_row_from_the_top():
    points = grid_points(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([10.0, 20.0]))
    assert points.tolist() == [[0, 20], [1, 20], [2, 20], [0, 10], [1, 10], [2, 10]]


def test_tile_places_each_image():
    images = torch.arange(6.0).reshape(6, 1, 1, 1).expand(6, 1, 2, 3)  # image i is all i
    picture = tile(images, 2, 3)
    assert picture.shape == (4, 9)  # one channel: a grey picture
    assert picture[::2, ::3].tolist() == [[0, 1, 2], [3, 4, 5]]
    colour = tile(torch.rand(6, 3, 2, 3), 2, 3)
    assert colour.shape == (4, 9, 3)
    torch.testing.assert_close(untile(colour, 2, 3), torch.from_numpy(colour).reshape(
        2, 2, 3, 3, 3).permute(0, 2, 4, 1, 3).reshape(6, 3, 2, 3))


def test_the_prior_grid_of_a_wider_code_lies_on_the_codes_axes_through_0(monkeypatch):
    """For d > 2 the codes' plane runs through their mean; the prior's grid runs through the
    prior's, 0, along the same axes, at the standard normal's quantiles."""
    from vaelab.measuring import latent
    from vaelab.models import build_model

    model = build_model(ModelConfig(model="vae", latent_dims=4, hidden_dims=(8,)), (1, 28, 28))
    codes = torch.randn(500, 4, generator=torch.Generator().manual_seed(0)) * 0.3 + 2.0
    plane = latent.LatentPlane.fit(codes)
    assert plane.origin.abs().min() > 1.5  # the codes' mean, far from 0
    decoded = []
    real = latent.decode_all
    monkeypatch.setattr(latent, "decode_all", lambda model, z, label=None: decoded.append(z)
                        or real(model, z, label))
    latent.prior_manifold(model, plane, grid=5)
    q = prior_quantiles(5)
    expected = torch.stack([u * plane.axes[0] + v * plane.axes[1] for v in q.flip(0) for u in q])
    torch.testing.assert_close(decoded[0], expected.to(decoded[0].dtype))


def test_prior_quantiles():
    q = prior_quantiles(5)
    torch.testing.assert_close(q, -q.flip(0))
    assert q[2].item() == 0
    assert q[0].item() == pytest.approx(-1.6449, abs=1e-4)
    assert (q.diff() > 0).all()


def test_the_prior_grids_ticks_give_each_value_its_quantile():
    """Ticks of -1.64, -0.60, 0.00, 0.60, 1.64 stood evenly spaced, as if the axis were
    linear; only the title said they were quantiles."""
    q = prior_quantiles(21).numpy()
    manifold = Manifold(np.zeros((21 * 4, 21 * 4)), q, q, evenly_spaced=False)
    ax = plots.manifold_figure(manifold, title="t").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "−1.64\n(5%)", "−0.60\n(27.5%)", "0.00\n(50%)", "0.60\n(72.5%)", "1.64\n(95%)"]
    assert [t.get_text() for t in ax.get_yticklabels()][::4] == ["−1.64 (5%)", "1.64 (95%)"]


def test_interpolation_ends_on_the_two_codes():
    a, b = torch.tensor([0.0, 1.0]), torch.tensor([4.0, -1.0])
    path = interpolate(a, b, 5)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert path[2].tolist() == [2.0, 0.0]


def test_bounds_pad_every_side():
    assert bounds(torch.tensor([[0.0, 0.0], [10.0, 2.0]]), margin=0.1) == pytest.approx(
        (-1.0, 11.0, -0.2, 2.2))


def test_codes_that_all_coincide_still_get_a_grid():
    """An encoder whose units all died maps every image to one code: draw it, do not crash."""
    u, v = linear_grid(bounds(torch.ones(50, 2)), 21)
    assert len(u) == len(v) == 21 and u[0] < 1 < u[-1]


def test_interpolation_pair_takes_the_classes_farthest_apart():
    points = np.array([[0, 0], [0.1, 0], [5, 5], [9, 0], [9.2, 0]], dtype=float)
    labels = np.array([0, 0, 1, 2, 2])
    assert interpolation_pair(points, labels) == (0, 3)


def test_one_class_s_interpolation_joins_two_images_far_apart_not_one_image_to_itself(tiny):
    """Images of a single class have no two classes to join: the first image of the class
    joined itself, under "classes img and img"."""
    from vaelab.data import ImageData
    from vaelab.measuring.latent import latent_picture
    from vaelab.models import build_model

    points = np.array([[0, 0], [1, 0], [5, 5], [-3, -3]], dtype=float)
    assert interpolation_pair(points, np.zeros(4, dtype=int)) == (2, 3)
    one = ImageData("img", ("img",), tiny.train_images, torch.zeros(len(tiny.train_images),
                    dtype=torch.long), tiny.test_images, torch.zeros(len(tiny.test_images),
                    dtype=torch.long))
    torch.manual_seed(0)
    model = build_model(ModelConfig(model="vae"), (1, 28, 28))
    seen = latent_picture(model, one)
    figure, _ = interpolation(model, one, seen, "VAE", ink=False)
    assert flat(figure._suptitle.get_text()).endswith(
        "between the codes of two test images of class img far apart")
    i, j = interpolation_pair(seen.points, seen.labels)
    assert i != j


def test_pictures_are_resampled_before_they_are_coloured_which_changes_no_pixel():
    """A grey picture is resampled to the figure's pixels as numbers, then coloured: with
    nearest-neighbour resampling every pixel comes out as if it were coloured first, and the
    resampling holds one number per pixel instead of four (the demo's manifold figures took
    50 MB more the other way)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    picture = np.random.default_rng(0).random((280, 308), dtype=np.float32)
    fig = plots.image_grid(picture, title="a grid")
    image = fig.axes[0].images[0]
    assert image.get_interpolation_stage() == "data"

    def pixels() -> np.ndarray:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba()).copy()

    resampled_first = pixels()
    image.set_interpolation_stage("rgba")
    assert np.array_equal(resampled_first, pixels())


# ---------------------------------------------------------------------------------------------
# The figures of a run.


def _image(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.float32)


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    runs = {}
    for name, latent in (("ae", 2), ("vae", 2), ("vae5", 5), ("vae1", 1)):
        config = RunConfig(ModelConfig(name[:3], latent_dims=latent, hidden_dims=(64,)),
                           train=TrainConfig(epochs=2, batch_size=64))
        runs[name] = train(config, out / name, data=tiny, progress=False)
        plot_run(runs[name], tiny)
    return runs


def test_a_vae_gets_every_figure(trained):
    run = trained["vae"]
    names = sorted(p.name for p in run.figures_dir.iterdir())
    assert names == sorted(["interpolation.gif", "interpolation.png", "latent.png", "loss.png",
                            "manifold.png", "manifold_prior.png", "reconstructions.png",
                            "samples.png"])
    for path in run.figures_dir.glob("*.png"):
        pixels = _image(path)
        assert min(pixels.shape) > 150, path.name
        assert pixels.std() > 10, f"{path.name} looks blank"


def test_plot_run_writes_the_page_beside_the_figures(trained):
    page = (trained["vae"].path / "index.html").read_text()
    assert 'src="figures/latent.png"' in page and "interpolation.gif" in page
    assert '<p class="lead">VAE with 2 latent dimensions, 2 epochs on' in page
    assert "training images of" not in page  # all of them
    assert 'href="index.html"' not in page  # its own name is not a link to itself
    # Its table's box scrolls sideways on a phone: the keyboard reaches it, a reader names it
    assert '<div class="scroll" tabindex="0" role="region" aria-label="Metrics"><table>' in page
    from vaelab.pictures.report import _noted

    assert _noted("61.2 [2] [3]") == ('61.2 <a href="#note-2">[2]</a> <a href="#note-3">[3]</a>')
    assert _noted("runs/exp[1] <b>") == "runs/exp[1] &lt;b&gt;"  # a bracket of a name: text
    # the option after a likelihood's words is muted as in the metrics' table
    assert _noted("squared error (sse) [1]") == (
        'squared error<span class="aside"> (sse)</span> <a href="#note-1">[1]</a>')
    from vaelab.pictures.report import write_run_page

    run = trained["vae"]  # a --train-subset named as the figures' titles name it
    subset = dataclasses.replace(run, config=dataclasses.replace(
        run.config, data=dataclasses.replace(run.config.data, train_subset=300)))
    try:
        assert "2 epochs on 300 training images of MNIST." in write_run_page(subset).read_text()
    finally:
        write_run_page(run)  # the page as the other tests read it


def test_an_ae_gets_no_prior_figures(trained):
    names = {p.name for p in trained["ae"].figures_dir.iterdir()}
    assert "samples.png" not in names and "manifold_prior.png" not in names
    assert {"latent.png", "manifold.png", "interpolation.gif"} <= names


def test_the_gif_goes_there_and_back_enlarged(trained):
    gif = Image.open(trained["vae"].figures_dir / "interpolation.gif")
    assert gif.size == (280, 280) and GIF_SIDE <= 28 * 10  # 28 px, ten times
    assert gif.n_frames == 2 * GIF_FRAMES - 2
    frames = []
    held = []
    for i in (0, GIF_FRAMES - 1, 2 * GIF_FRAMES - 3):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("L"), dtype=np.float32))
        held.append(gif.info["duration"])
    assert held == [1000, 1000, 50]  # it rests a second at each end, where it turns
    assert np.abs(frames[0] - frames[1]).mean() > 1  # it moves
    assert np.abs(frames[2] - frames[0]).mean() < np.abs(frames[1] - frames[0]).mean()


def test_figures_of_a_5d_space_say_they_show_a_pca_plane(trained, tiny):
    seen = latent_picture(trained["vae5"].model, tiny)
    assert seen.plane.is_pca
    assert seen.plane.axis_labels()[0].startswith("PC 1 (")
    fig = plots.latent_scatter(seen.points, seen.labels, tiny.classes, title="t",
                               axis_labels=seen.plane.axis_labels())
    assert fig.axes[0].get_xlabel().startswith("PC 1 (")
    assert (trained["vae5"].figures_dir / "latent.png").exists()


def test_a_1d_latent_space_is_drawn_as_a_line(trained, tiny):
    run = trained["vae1"]
    assert (run.figures_dir / "manifold_prior.png").exists()
    seen = latent_picture(run.model, tiny)
    assert seen.plane.is_line and seen.plane.axis_labels() == ("$z$", "class")
    assert seen.manifold.picture.shape == (28, 28 * GRID)  # one row of tiles
    # each code sits in its class's row, so that the classes can be told apart
    assert np.all(np.abs(seen.points[:, 1] - seen.labels) <= 0.3)
    fig = draw_comparison([LatentView("VAE", seen.points, seen.labels, seen.manifold)],
                           tiny.classes, title="t")
    assert fig.axes[0].get_ylim()[1] > 9  # the rows of all ten classes stay in view
    codes = plots.latent_scatter(seen.points, seen.labels, tiny.classes, title="t",
                                 axis_labels=seen.plane.axis_labels(), equal=False)
    rows = codes.axes[0].get_yticklabels()  # every row named by its class, not every other
    assert [t.get_text() for t in rows] == list(tiny.classes)


def test_a_manifold_of_a_tall_or_wide_region_stays_a_figure_of_page_size():
    """Codes three times as spread along z2 as along z1 (a half-collapsed VAE) gave a figure
    16.6 inches high; its tiles now fit a box of 5.2 inches, whichever side is longer."""
    for rows, cols in ((21, 7), (7, 21), (21, 21)):
        manifold = Manifold(np.zeros((rows * 28, cols * 28)), np.linspace(0, 1, cols),
                            np.linspace(0, 1, rows))
        width, height = plots.manifold_figure(manifold, title="t").get_size_inches()
        assert width <= 6.2 and height <= 6.2, (rows, cols)
        assert (height > width) == (rows > cols) or rows == cols, (rows, cols)


def test_a_comparison_puts_each_model_in_a_column_with_one_legend(trained, tiny):
    """Four runs made a figure 20 inches high, one row each; now a column each, named at its
    top, codes above the decoder, a slide's shape, and the classes' legend once by the top codes;
    more than four runs go on further rows, no panel narrower than 3.2 inches."""
    seen = latent_picture(trained["vae"].model, tiny)
    view = LatentView("runs/cvae, denoising β-CVAE (β = 4, mask 0.5)", seen.points,
                            seen.labels, seen.manifold, drawn_as="Ankle boot")
    fig = draw_comparison([view] * 4, tiny.classes, title="t")
    width, height = fig.get_size_inches()
    assert width > 1.5 * height and height < 9
    assert [cell._suptitle.get_text() for cell in fig.subfigs[:4]] == [
        "runs/cvae,\ndenoising β-CVAE (β\u00a0=\u00a04, mask 0.5)"] * 4  # wrapped over its column
    assert [ax.get_title() for ax in fig.subfigs[0].axes] == [
        "test codes", "decoder over the same region, drawn\nas class Ankle\u00a0boot"]
    # The legend stands once, in a column of its own level with the top row's codes (it sat
    # between the rows; beside the last codes, it shrank that column's panels)
    key = fig.subfigs[4]  # the first row's fifth column
    assert not key.axes and len(key.legends) == 1 and not fig.legends
    assert not any(ax.get_legend() for ax in fig.axes)
    assert [t.get_text() for t in key.legends[0].get_texts()] == list(tiny.classes)
    fig.draw_without_rendering()
    legend = key.legends[0].get_window_extent()
    codes = [cell.axes[0].get_window_extent() for cell in fig.subfigs[:4]]
    assert codes[-1].x1 < legend.x0 and legend.x1 <= fig.bbox.x1  # right of them, on the page
    assert codes[-1].y0 < (legend.y0 + legend.y1) / 2 < codes[-1].y1
    assert len({(round(box.width), round(box.height)) for box in codes}) == 1  # one size
    for cell, box in zip(fig.subfigs[:4], codes, strict=True):  # each name centred on its
        name = cell._suptitle.get_window_extent()  # panels (on the cell, it stood left of them)
        assert abs((name.x0 + name.x1) / 2 - (box.x0 + box.x1) / 2) < 0.5
        assert name.y0 > cell.axes[0].title.get_window_extent().y1  # and above their titles
    for n, (rows, columns) in {6: (2, 3), 8: (2, 4), 9: (3, 3)}.items():
        fig = draw_comparison([view] * n, tiny.classes, title="t")
        width, height = fig.get_size_inches()
        assert len(fig.subfigs) == rows * (columns + 1) and len(fig.axes) == 2 * n, n
        assert [len(cell.legends) for cell in fig.subfigs] == [0] * columns + [1] + [0] * (
            (rows - 1) * (columns + 1)), n
        fig.draw_without_rendering()
        panels = [cell.axes[0].get_window_extent().width / fig.dpi for cell in fig.subfigs
                  if cell.axes]
        assert min(panels) >= 2.5 and max(panels) - min(panels) < 0.01, (n, panels)  # alike


def test_a_comparisons_titles_line_up_and_a_tiny_range_reads_with_a_power_of_ten():
    """Regions of other shapes (a wide AE, a round VAE, a collapsed one a hundred times
    smaller) left each column's titles at its own height, and the collapsed one's ticks ran
    together as '-0.010-0.005 0.000'. So did a name or a decoder's title of two lines over
    one column, broken inside 'k =' / '5)'."""
    rng = np.random.default_rng(0)
    views = []
    long = "a-long-run-name, VAE (Bernoulli, IWAE, k = 5, β = 4)"  # over 49 characters
    for name, scale in (("wide", (6.0, 2.0)), ("round", (2.0, 2.0)), ("tiny", (0.005, 0.01))):
        points = rng.normal(size=(500, 2)) * scale
        u0, v0 = points.min(0)
        u1, v1 = points.max(0)
        u, v = (np.linspace(u0, u1, 20), np.linspace(v0, v1, 7 if name == "wide" else 20))
        manifold = Manifold(np.zeros((len(v) * 28, len(u) * 28)), u, v)
        views.append(LatentView(long if name == "round" else name, points, np.arange(500) % 10,
                                manifold, drawn_as="Ankle boot" if name == "tiny" else None))
    fig = draw_comparison(views, [str(c) for c in range(10)], title="t")
    kept = "VAE (Bernoulli, IWAE, k = 5, β = 4)".replace(" = ", "\u00a0=\u00a0")
    assert [cell._suptitle.get_text() for cell in fig.subfigs[:3]] == [
        "wide\n", f"a-long-run-name,\n{kept}", "tiny\n"]
    assert fig.subfigs[2].axes[1].get_title() == \
        "decoder over the same region, drawn as class\nAnkle\u00a0boot"
    assert fig.subfigs[0].axes[1].get_title() == "decoder over the same region\n"
    from vaelab.pictures.comparison import _name_lines

    lines = _name_lines("mnist-vae-latent-16-beta-4-warmup-10, β-VAE (Bernoulli)", 30)
    assert max(map(len, lines)) <= 30 and lines[-1] == "β-VAE (Bernoulli)"  # a long folder too
    assert "".join(lines[:-1]) == "mnist-vae-latent-16-beta-4-warmup-10,"  # at its hyphens
    assert _name_lines("VAE (Bernoulli, IWAE, k = 5, β = 4)", 30) == [  # no folder before it
        "VAE (Bernoulli, IWAE, k\u00a0=\u00a05,", "β\u00a0=\u00a04)"]
    fig.draw_without_rendering()
    for row, within in ((0, 2), (1, 10)):  # the codes, then the decoders (pixels at 100 dpi)
        heights = [cell.axes[row].title.get_window_extent().y0 for cell in fig.subfigs[:3]]
        assert max(heights) - min(heights) < within, (row, heights)
    tiny = fig.subfigs[2].axes[0]
    for labels in (tiny.get_xticklabels(), tiny.get_yticklabels()):  # scaled, '-1.0' not '-0.010'
        texts = [re.sub(r"[$}]|\\mathdefault\{", "", label.get_text()) for label in labels]
        assert texts and all(len(text) <= 4 for text in texts), texts


@pytest.mark.parametrize("shape", ["wide", "square", "tall", "lines"])
def test_a_comparison_leaves_no_empty_band_between_its_codes_and_its_decoders(shape):
    """Rows were square whatever the region: runs on one scale three times as wide as high
    left a band of 2.9 inches under their codes and as much under their decoders, and
    latent lines a decoder's strip in a square."""
    rng = np.random.default_rng(0)
    scale = {"wide": (6.0, 2.0), "square": (2.0, 2.0), "tall": (2.0, 6.0),
             "lines": (2.0, 0.0)}[shape]
    points = rng.normal(size=(500, 2)) * scale
    u = np.linspace(-3 * scale[0], 3 * scale[0], 20)
    v = np.linspace(-3 * scale[1], 3 * scale[1], 7 if shape == "wide" else 20)
    v = v[:1] if shape == "lines" else v
    manifold = Manifold(np.zeros((len(v) * 28, len(u) * 28)), u, v)
    views = [LatentView(f"run{k}, VAE", points, np.arange(500) % 10, manifold)
             for k in range(2)]
    fig = draw_comparison(views, [str(c) for c in range(10)], title="t")
    figure_bytes(fig)  # laid out as it is saved
    for cell in fig.subfigs[:2]:
        codes, decoder = (ax.get_tightbbox() for ax in cell.axes)
        assert (codes.y0 - decoder.y1) / fig.dpi < 0.3, shape  # inches between them
        assert (decoder.y0 - cell.bbox.y0) / fig.dpi < 0.3, shape  # and below
    if shape != "lines":  # one region, one size
        sizes = {tuple(np.round(ax.get_window_extent().size)) for ax in fig.axes}
        assert len(sizes) == 1, sizes


def test_the_codes_figure_shows_the_region_that_the_manifold_figure_decodes():
    """latent.png widened its window to fill its box, so that beside manifold.png the same
    code sat at other places (a collapsed run's codes over twice the width)."""
    rng = np.random.default_rng(0)
    for scale in ((1.0, 1.0), (3.0, 1.0), (0.004, 0.01)):
        points = rng.normal(size=(300, 2)) * scale
        (u0, v0), (u1, v1) = points.min(0), points.max(0)
        manifold = Manifold(np.zeros((21 * 28, 21 * 28)), np.linspace(u0, u1, 21),
                            np.linspace(v0, v1, 21))
        fig = plots.latent_scatter(points, np.arange(300) % 10, [str(c) for c in range(10)],
                                   title="t", window=manifold.extent)
        ax = fig.axes[0]
        assert ax.get_xlim() + ax.get_ylim() == pytest.approx(manifold.extent), scale
        assert ax.get_aspect() == 1.0 and max(fig.get_size_inches()) <= 6.4, scale
    # Ten times as wide as high: high enough for the legend; a window of no width: unscaled
    flat = plots.latent_scatter(points, np.arange(300) % 10, [str(c) for c in range(10)],
                                title="t", window=(0.0, 10.0, 0.0, 1.0))
    assert flat.get_size_inches()[1] >= 3.6
    for window in ((0.0, 0.0, 0.0, 1.0), (0.0, float("nan"), 0.0, 1.0)):
        fig = plots.latent_scatter(points, np.arange(300) % 10, [], title="t", window=window)
        assert tuple(fig.get_size_inches()) == (6.4, 5.2), window


def test_latent_scatter_shows_every_class_in_its_legend(tiny):
    fig = plots.latent_scatter(np.random.default_rng(0).normal(size=(100, 2)),
                               np.arange(100) % 10, tiny.classes, title="codes")
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(tiny.classes)


def test_report_links_every_figure_and_reaches_no_other_host(trained, tmp_path):
    runs = [trained["ae"], trained["vae"]]
    page = write_report(runs, trained["ae"].path.parent / "index.html", title="AE vs VAE",
                        commands=["vaelab demo"])
    text = page.read_text()
    sources = re.findall(r'src="([^"]+)"', text)
    assert len(sources) == 8 + 6  # every VAE figure, every AE figure
    for src in sources:
        assert (page.parent / src).exists(), src
    # Every figure at one scale, so that their text is one size: a one-panel loss figure is
    # not blown up to a three-panel one's width; the animation (enlarged already) as it is
    for src, width, height in re.findall(r'src="([^"]+)"[^>]* width="(\d+)" height="(\d+)"',
                                         text):
        with Image.open(page.parent / src) as image:
            scale = 1 if src.endswith(".gif") else 0.6
            assert (int(width), int(height)) == (round(image.width * scale),
                                                 round(image.height * scale)), src
    assert len(re.findall(r"<img [^>]*width=", text)) == len(sources)
    # Side by side where they fit; a figure that would shrink too far goes one under the other
    columns = dict(re.findall(r"<h2>([^<]+)</h2>(?:(?!<section>).)*?--n: (\d)", text))
    assert columns["Latent codes"] == "2" and columns["Training curves"] == "2", columns
    three = write_report([*runs, trained["vae"]], tmp_path / "three.html", title="t",
                         commands=[]).read_text()  # the three-panel loss at 0.54 of its scale
    columns = dict(re.findall(r"<h2>([^<]+)</h2>(?:(?!<section>).)*?--n: (\d)", three))
    assert columns["Training curves"] == "1", columns
    assert "http://" not in text and "https://" not in text
    # each row of a table named by its first cell, for a screen reader
    assert text.count('<th scope="row">') == text.count("<tr>") - text.count("<thead><tr>")
    # Each image a link to its file at full size, its alt text what it shows (not its file's
    # name, which two runs share); each run's name a link to its own page
    images = re.findall(r'<a href="([^"]+)"><img src="([^"]+)" alt="([^"]+)"', text)
    assert len(images) == len(sources) and all(href == src for href, src, _ in images)
    alts = [alt for _, _, alt in images]
    assert len(set(alts)) == len(alts) and "vae (VAE): latent codes" in alts, alts
    assert all(f'<a href="{name}/index.html"><span class="whole">{name}</span></a>' in text
               for name in ("ae", "vae"))
    assert "<table>" in text and "test loss per image" in text
    assert text.count("this model has no prior") == 2
    (trained["ae"].figures_dir / "loss.png").rename(tmp_path / "loss.png")
    try:
        text = write_report(runs, page, title="again").read_text()
    finally:
        (tmp_path / "loss.png").rename(trained["ae"].figures_dir / "loss.png")
    assert text.count("this model has no prior") == 2  # only for the figures of a prior
    assert text.count("not drawn for this run") == 1


@pytest.mark.parametrize("name", ["ae", "vae5"])
def test_the_latent_plot_shows_the_window_the_manifold_is_decoded_over(name, trained, tiny,
                                                                       tmp_path, monkeypatch):
    """The scatter and the manifold beside it cover one region: the scatter's axes are the
    manifold's extent, on the plane the codes lie in."""
    windows = []
    real = plots.latent_scatter

    def scatter(*args, window=None, **kwargs):
        windows.append(window)
        return real(*args, window=window, **kwargs)

    monkeypatch.setattr(plots, "latent_scatter", scatter)
    write_run_figures(trained[name], tiny, tmp_path)
    extent = latent_picture(trained[name].model, tiny).manifold.extent
    assert len(windows) == 1 and windows[0] == pytest.approx(extent) and extent is not None


def test_the_pages_table_holds_the_last_epochs_losses_and_the_whole_training_time(trained, tiny,
                                                                                 tmp_path):
    """Of a run of two epochs: the second epoch's train and test losses, and the seconds of
    both epochs added."""
    from vaelab.pictures.report import metrics_rows

    run = trained["vae"]
    assert len(run.metrics) == 2
    rows = dict(metrics_rows([run]))
    last = run.metrics[-1]
    for split in ("train", "test"):
        for key, name in (("loss", "loss"), ("recon", "reconstruction"), ("kl", "KL")):
            assert rows[f"{split} {name} per image"] == [f"{last[split][key]:,.2f}"], (split, key)
    assert rows["epochs"] == ["2"]
    assert rows["likelihood"] == ["squared error (sse)"]  # as the run's figures name it
    timed = dataclasses.replace(run, metrics=[{**m, "train_seconds": seconds} for m, seconds
                                              in zip(run.metrics, (10.0, 20.5), strict=True)])
    assert dict(metrics_rows([timed]))["training time (s)"] == ["30.5"]
    # The images it learnt from and was tested on, as its records count them (an older run's
    # count none, and its table has no such rows)
    assert [m["images"] for m in run.metrics] == [{"train": 512, "test": 128}] * 2  # all
    assert (rows["training images"], rows["test images"]) == (["512"], ["128"])
    fewer = train(RunConfig(ModelConfig("vae", hidden_dims=(16,)), DataConfig(train_subset=100),
                            TrainConfig(epochs=1)), tmp_path / "fewer", data=tiny,
                  progress=False)
    assert dict(metrics_rows([fewer]))["training images"] == ["100"]  # those it learnt from
    older = dataclasses.replace(run, metrics=[{key: value for key, value in m.items()
                                               if key != "images"} for m in run.metrics])
    assert not {"training images", "test images"} & set(dict(metrics_rows([older])))


def test_figures_for_print(trained, tiny, tmp_path):
    paths = write_run_figures(trained["ae"], tiny, tmp_path, fmt="pdf")
    assert paths["latent"].suffix == ".pdf"
    assert paths["latent"].read_bytes().startswith(b"%PDF")
    # The same figures are the same files (no date, no random ids: a handout kept in git
    # does not change when drawn again), their points and images 300 pixels an inch
    for fmt in ("pdf", "svg"):
        first = write_run_figures(trained["ae"], tiny, tmp_path / f"{fmt}1", fmt=fmt)
        again = write_run_figures(trained["ae"], tiny, tmp_path / f"{fmt}2", fmt=fmt)
        for key, path in first.items():
            assert path.read_bytes() == again[key].read_bytes(), (fmt, key)
    from PIL import Image

    latent = (tmp_path / "svg1" / "latent.svg").read_text()  # its points, as one image
    image = re.search(r'<image xlink:href="data:image/png;base64,([^"]+)".*?height="([\d.]+)"',
                      latent, re.S)  # its height in points, of 72 an inch
    pixels = Image.open(io.BytesIO(base64.b64decode(image[1]))).height
    assert pixels / float(image[2]) == pytest.approx(300 / 72, rel=0.02)
    with pytest.raises(VaelabError, match="unknown figure format 'jpg'"):
        write_run_figures(trained["ae"], tiny, tmp_path, fmt="jpg")


def test_every_figure_of_a_run_fits_a_printed_page_at_its_size(trained, tiny, tmp_path):
    """The loss curves were 11.3 inches wide, the interpolation 9.5: put on an A4 page
    between margins of half an inch (7.27 in), their text shrank to 6 points. Now each of a
    VAE's figures fits there, its text at the size it was drawn."""
    paths = write_run_figures(trained["vae"], tiny, tmp_path, fmt="pdf")
    assert {"loss", "interpolation", "reconstructions"} <= paths.keys()
    pdfs = {key: path.read_bytes() for key, path in paths.items() if path.suffix == ".pdf"}
    # A long class's name in a title widened the figure past the page: now the title wraps
    long = "decoding the straight line between the codes of two test images (classes Trouser " \
           "and Sneaker)"
    frames = np.zeros((10, 28, 28))
    pdfs["long title"] = figure_bytes(plots.interpolation_strip(
        frames, frames[0], frames[0], start_label="a test\nTrouser", end_label="a test\nSneaker",
        title=f"VAE (Fashion-MNIST, 3,000 training images, d=2, 2 epochs)\n{long}"), "pdf")
    pdfs["wide letters"] = figure_bytes(plots.image_rows(  # measured, not counted
        [("row", frames)], title="W" * 77), "pdf")
    for key, pdf in pdfs.items():
        box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", pdf)
        assert float(box[1]) / 72 <= 7.27, (key, float(box[1]) / 72)


@pytest.mark.parametrize(("lines", "labels"), [(1, ("a test 0", "a test 1")),
                                               (2, ("a test\nTrouser", "a test\nSneaker"))])
def test_the_interpolation_strip_has_no_empty_band_under_its_title(lines, labels):
    """Its figure was 1.9 inches tall whatever its images' size: 78 of its 269 pixels were
    a blank band between the title and the images."""
    frames = np.random.default_rng(0).random((10, 28, 28))
    title = "\n".join(["VAE (MNIST, d=2, 20 epochs)", *["decoding the straight line"] * lines])
    strip = plots.interpolation_strip(frames, frames[0], frames[1], start_label=labels[0],
                                      end_label=labels[1], title=title)
    grey = np.asarray(Image.open(io.BytesIO(figure_bytes(strip))).convert("L"))
    inked = np.flatnonzero((grey < 250).any(axis=1))  # rows with anything drawn on them
    assert np.diff(inked).max() - 1 <= 20  # pixels at 150 dpi between title and images


def test_titles_and_labels_say_what_a_teacher_would_put_on_a_slide(tiny, tmp_path):
    import dataclasses

    from vaelab.pictures import captions, figures

    # Class names fit over their images: broken at a slash, a space, an underscore or a
    # hyphen, a word too long with a hyphen of its own; not run together
    assert [in_a_column(c) for c in ("T-shirt/top", "Ankle boot", "Trouser", "7", "abc / def",
                                     "golden_retriever", "siamese_cat", "x_y", "sealevelrise",
                                     "eightabc", "abcdefgh_x", "golden-retriever")] == [
        "T-shirt/\ntop", "Ankle\nboot", "Trouser", "7", "abc /\ndef", "golden_\nretriev-\ner",
        "siamese_\ncat", "x_y", "sealeve-\nlrise", "eightabc", "abcdefgh_\nx",
        "golden-\nretriev-\ner"]  # a hyphen of the name's, and one added to break a word
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot")
    clothes = dataclasses.replace(tiny, classes=names)
    config = RunConfig(ModelConfig("cvae", hidden_dims=(32,)),
                       train=TrainConfig(epochs=1, beta=4, kl_warmup=2, noise="mask:0.5"))
    run = train(config, tmp_path / "run", data=clothes, progress=False)
    seen = latent_picture(run.model, clothes)
    strip, _ = interpolation(run.model, clothes, seen, "CVAE", True)
    title = flat(strip.get_suptitle())  # its lines broken to fit the figure
    assert re.search(r"two test images \(classes [\w /-]+ and [\w /-]+\), the label mixed "
                     r"from", title)
    assert " a A" not in title and " a T" not in title  # no article before a class name
    recon = figures._reconstructions(run.model, clothes, "DAE", True, config.train.noise)
    assert flat(recon.get_suptitle()).endswith(" (clean: it trained on corrupted ones, see the "
                                               "denoising figure)")
    denoising = figures._denoising(run.model, clothes, "DAE (mask 0.5)", True, "mask:0.5", 0)
    assert "mask" not in denoising.get_suptitle().removeprefix("DAE (mask 0.5)")  # once
    loss = figures._loss(run, "β-CVAE")
    # Its codes are of corrupted inputs: the sum of its terms, not the −ELBO of the images
    assert flat(loss.get_suptitle()).endswith(" training curves; the sum at β = 1, trained "
                                              "with the KL weighted (β = 4, warming up over 2 "
                                              "epochs, 1 done) the terms of clean images "
                                              "decoded from codes of inputs corrupted with "
                                              "mask 0.5")
    # The squared error leaves the Gaussian's constant out: the curve is not eval's −ELBO
    assert loss.axes[0].get_ylabel() == ("squared error + KL per image\n(the sum in nats "
                                         "less\nits constant, 448.7)")  # lines that fit
    assert loss.axes[2].get_ylabel() == "KL(q(z|x,y) || p(z)) per image\n(nats)"  # given y
    # Bernoulli pixels of grey images are a cross-entropy: no −ELBO, nor a −log p(x|z)
    grey = train(RunConfig(ModelConfig("vae", hidden_dims=(32,), likelihood="bce"),
                           train=TrainConfig(epochs=1)), tmp_path / "grey", data=tiny,
                 progress=False)
    loss = figures._loss(grey, "VAE")
    assert [ax.get_ylabel() for ax in loss.axes[:2]] == [
        "recon + KL per image\n(nats)",
        "Bernoulli cross-entropy\nper image\n(nats)"]
    assert flat(loss.get_suptitle()).endswith(" Bernoulli pixels of grey images: a "
                                              "cross-entropy, not a likelihood (--binarize "
                                              "dynamic makes it one)")
    loss_text = dict((file, text) for file, _, text in captions.SECTIONS)[captions.LOSS]
    assert captions.caption(captions.LOSS, loss_text, [grey]).endswith(captions.CROSS_ENTROPY)
    assert captions.caption(captions.LOSS, loss_text, [run]).endswith(captions.DENOISING_LOSS)
    one = dataclasses.replace(run, config=dataclasses.replace(
        config, train=dataclasses.replace(config.train, kl_warmup=1)))
    assert "(β = 4, warmed up over 1 epoch) " in flat(figures._loss(one, "β-CVAE").get_suptitle())
    # The run's table says that its loss is at β = 1, not the line it minimised
    from vaelab.pictures.report import metrics_rows

    loss = run.metrics[-1]["test"]["loss"]  # its warm-up unfinished, then finished
    assert dict(metrics_rows([run]))["test loss per image"] == [
        f"{loss:,.2f} (at β = 1; trained with β warming up to 4)"]
    assert dict(metrics_rows([one]))["test loss per image"] == [
        f"{loss:,.2f} (at β = 1; trained with β = 4)"]
    warming = dataclasses.replace(run, config=dataclasses.replace(
        config, train=dataclasses.replace(config.train, beta=1)))  # a warm-up alone
    assert dict(metrics_rows([warming]))["test loss per image"] == [
        f"{loss:,.2f} (at β = 1; trained with the KL warming up)"]


def test_a_run_page_and_its_explorer_say_when_its_evaluation_is_of_fewer_epochs(tiny, tmp_path):
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.pictures.explore import explorer_data
    from vaelab.pictures.report import write_run_page
    from vaelab.training.loop import resume

    config = RunConfig(ModelConfig("vae", hidden_dims=(32,)), train=TrainConfig(epochs=1))
    run = train(config, tmp_path / "run", data=tiny, progress=False)
    evaluate_run(run, tiny, k=2, samples=1, judge=None, progress=False)
    assert "Measured after" not in write_run_page(run).read_text()
    assert explorer_data(run, tiny, points=50)["run"]["evaluation"][0][0] != "measured after"
    run = resume(run, epochs=2, data=tiny, progress=False)  # eval.json is of epoch 1
    page = write_run_page(run).read_text()
    assert f"Measured after 1 epoch; the run has 2 now: vaelab eval {run.path} measures " \
           f"it again." in page
    first = explorer_data(run, tiny, points=50)["run"]["evaluation"][0]
    assert first == ("measured after", f"1 epoch, not 2: vaelab eval {run.path} measures the "
                                       f"run again")


def test_the_loss_curves_labels_fit_beside_their_axes_below_a_title_of_any_length():
    """A label longer than its axes ran into the title above them (four lines of a denoising
    β-CVAE's); a k after 'per image' read as 'k = 5 per image'."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    metrics = [{"epoch": e, "train": {"loss": 9.0 - e, "recon": 8.0 - e, "kl": 1.0},
                "test": {"loss": 9.5 - e, "recon": 8.5 - e, "kl": 1.0}} for e in (1, 2)]
    for lines in (2, 4):
        fig = plots.loss_curves(metrics, title="\n".join(["a title line"] * lines),
                                loss_name="recon + KL, mean of k = 3 draws\n(nats)",
                                recon_name="Bernoulli cross-entropy\n(the sum in nats less its "
                                           "constant, 448.7)", kl_name="−IWAE bound, k = 5")
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # laid out
        renderer = canvas.get_renderer()
        title = fig._suptitle.get_window_extent(renderer)
        for ax in fig.axes:
            label = ax.yaxis.label.get_window_extent(renderer)
            assert label.y1 <= title.y0 and label.height <= ax.bbox.height * 1.05, lines
            assert all(len(line) <= plots.LABEL_WIDTH for line in ax.get_ylabel().split("\n"))
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "recon + KL per image,\nmean of k = 3 draws\n(nats)",
        "Bernoulli cross-entropy\nper image\n(the sum in nats less\nits constant, 448.7)",
        "−IWAE bound per image, k = 5"]


@pytest.mark.parametrize("epochs", [1, 5, 7, 11, 15, 19, 37, 40, 100])
def test_the_loss_curves_tick_whole_epochs_at_any_length(epochs):
    """Runs of 12 to 19 epochs were ticked at 2.5, 5.0, 7.5, ... A few epochs are each
    ticked, in panels of a page's third (a VAE's) up to seven."""
    terms = {"loss": 1.0, "recon": 0.5, "kl": 0.5}
    metrics = [{"epoch": e, "train": terms, "test": terms} for e in range(1, epochs + 1)]
    fig = plots.loss_curves(metrics, title="t", recon_name="r")
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() and t >= 1 for t in ticks), ticks
        assert epochs > 7 or ticks == list(range(1, epochs + 1))  # few: every one


def test_codes_along_a_line_get_a_window_of_readable_tiles():
    """An undertrained model's codes over 0.28 x 0.05 were decoded as a strip 4 tiles high."""
    from vaelab.measuring.latent import linear_grid, widened

    box = widened((0.0, 0.28, 1.0, 1.05))
    assert box == pytest.approx((0.0, 0.28, 0.955, 1.095))  # half as high as wide, same centre
    u, v = linear_grid(box, 21)
    assert (len(u), len(v)) == (21, 11)
    assert widened((0.0, 3.0, 0.0, 2.0)) == (0.0, 3.0, 0.0, 2.0)  # a trained model's: as it is
    assert widened((5.0, 5.1, -2.0, 2.0)) == pytest.approx((4.05, 6.05, -2.0, 2.0))


def test_captions_say_where_a_plane_lies_and_what_a_cvae_mixes():
    """A latent space of more than two dimensions is seen on a plane, and the prior's grid is
    a slice of it; a CVAE's codes mix the classes by design: the page said neither."""
    from types import SimpleNamespace

    from vaelab.pictures.captions import SECTIONS, caption

    def run(model: str, latent_dims: int):
        return SimpleNamespace(config=RunConfig(ModelConfig(model, latent_dims)),
                               model=SimpleNamespace(conditional=model == "cvae",
                                                     has_prior=model != "ae"))

    texts = {file: text for file, _, text in SECTIONS}
    flat, deep, cvae = run("vae", 2), run("vae", 8), run("cvae", 2)
    prior = caption("manifold_prior.png", texts["manifold_prior.png"], [deep])
    assert prior.endswith("through the prior's mean, 0: a slice of the prior, not all of it.")
    assert "principal axes" not in caption("manifold.png", texts["manifold.png"], [flat])
    latent = caption("latent.png", texts["latent.png"], [flat, cvae])
    assert "the linear probe measures how much. Each class's name (or, for long names, its " \
        "number or letter from the legend)" in latent
    assert latent.endswith("stands where its codes lie thickest and most its own (a class of "
                           "a few codes: at their median), moved apart where two would overlap.")
    assert "CVAE" not in caption("latent.png", texts["latent.png"], [flat])
    # A latent line names its rows instead: no name at a middle
    assert "Each class's name" not in caption("latent.png", texts["latent.png"], [run("vae", 1)])
    # A CVAE's grids are of one class, and its reconstructions are given their labels
    for file in ("manifold.png", "manifold_prior.png"):
        assert caption(file, texts[file], [cvae]).endswith(
            " A CVAE's decoder draws every tile as one class, which the figure's title names "
            "(vaelab plot --label picks another).")
        assert "CVAE" not in caption(file, texts[file], [flat])
    assert caption("reconstructions.png", texts["reconstructions.png"], [cvae]).endswith(
        " A CVAE's encoder and decoder are given each image's own label.")


def test_the_metrics_table_says_where_the_loss_is_an_iwae_bound():
    """Below its ELBO's two terms added: without a word, the table's rows did not add up."""
    from types import SimpleNamespace

    from vaelab.pictures.report import metrics_rows

    record = {"epoch": 1, "train_seconds": 1.0,
              **{split: {"loss": 43.3, "recon": 42.7, "kl": 2.2} for split in ("train", "test")}}
    runs = [SimpleNamespace(config=RunConfig(train=TrainConfig(**train)), epochs_done=1,
                            model=torch.nn.Linear(1, 1), metrics=[record])
            for train in ({"objective": "iwae", "k": 5}, {})]
    rows = dict(metrics_rows(runs))
    assert rows["test loss per image"] == ["43.30 (−IWAE bound)", "43.30"]
    assert rows["test reconstruction per image"] == ["42.70", "42.70"]


def test_a_run_trained_on_the_tutorials_kl_line_shows_the_closed_form_kl_as_such(trained):
    """Its records hold the closed-form KL, not the line it minimised: labelled as the line,
    they read as the tutorial's figure."""
    import dataclasses

    from vaelab.pictures import figures
    from vaelab.pictures.report import metrics_rows

    run = trained["vae"]
    line = dataclasses.replace(run, config=dataclasses.replace(
        run.config, train=dataclasses.replace(run.config.train, kl="tutorial")))
    loss = figures._loss(line, "VAE")
    assert loss.axes[2].get_ylabel() == "KL(q(z|x) || p(z)) per image\n(nats)"
    assert flat(loss.get_suptitle()).endswith("; trained on the tutorial's KL line, drawn with "
                                              "the closed-form KL")
    weighted = dataclasses.replace(line, config=dataclasses.replace(
        line.config, train=dataclasses.replace(line.config.train, beta=4)))
    assert flat(figures._loss(weighted, "β-VAE").get_suptitle()).endswith(
        "; trained on the tutorial's KL line weighted (β = 4), drawn with the closed-form KL")
    kl = dict(metrics_rows([line, run]))["test KL per image"]
    assert kl[0] == f"{kl[1]} (closed form; trained on the tutorial's line)"


def test_a_scatter_names_each_class_where_its_codes_lie_thickest():
    """Ten colours are not ten to a colour-blind reader, nor in grey print: the codes of 0 and
    4, 2 and 3, 6 and 9 looked alike under deuteranopia."""
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0)
    middles = np.array([[0.0, 0.0], [5.0, 5.0], [5.0, 5.01]])  # the last two share a middle
    labels = np.repeat(np.arange(3), 200)
    points = middles[labels] + rng.normal(scale=0.5, size=(600, 2))
    ax = Figure().add_subplot()
    plots.draw_scatter(ax, points, labels, ["0", "1", "2"])
    named = {t.get_text(): np.array(t.get_position()) for t in ax.texts}
    assert set(named) == {"0", "1", "2"}
    spread = np.ptp(np.percentile(points, [1, 99], axis=0), axis=0)
    zeros = points[labels == 0]
    assert (zeros == named["0"]).all(axis=1).any()  # alone: on one of its codes, in the middle
    assert np.hypot(*((named["0"] - np.median(zeros, axis=0)) / spread)) < 0.05
    assert np.hypot(*((named["1"] - named["2"]) / spread)) >= 0.05 - 1e-9  # moved apart
    assert np.hypot(*((named["1"] - np.median(points[labels == 1], axis=0)) / spread)) < 0.1
    # Codes on an arc (the 1s of a VAE): the name on them, not in the empty middle
    angles = rng.uniform(0, np.pi, 300)
    arc = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 3 + rng.normal(scale=0.05,
                                                                             size=(300, 2))
    ax = Figure().add_subplot()
    plots.draw_scatter(ax, arc, np.zeros(300, dtype=np.int64), ["1"])
    (name,) = [np.array(t.get_position()) for t in ax.texts]
    assert np.hypot(*(arc - name).T).min() < 1e-9 < 0.5 < np.hypot(*(arc - np.median(arc, 0)).T
                                                                  ).min()
    # A class half in another's thicker cloud and half apart: named where it is its own
    parts = [rng.normal(scale=0.3, size=(n, 2)) + at for n, at in ((600, 0), (300, 0), (200, 5))]
    mixed, owner = np.concatenate(parts), np.repeat([0, 1, 1], [600, 300, 200])
    ax = Figure().add_subplot()
    plots.draw_scatter(ax, mixed, owner, ["B", "A"])
    named = {t.get_text(): np.array(t.get_position()) for t in ax.texts}
    assert np.hypot(*(named["A"] - 5)) < 1 and np.hypot(*named["B"]) < 1, named
    # A few codes, whose name on one of them would hide it: at their median
    few = rng.normal(size=(6, 2))
    ax = Figure().add_subplot()
    plots.draw_scatter(ax, few, np.zeros(6, dtype=np.int64), ["0"])
    assert np.allclose(ax.texts[0].get_position(), np.median(few, axis=0))
    # Long names are numbered, on the codes and in the legend
    ax = Figure().add_subplot()
    plots.draw_scatter(ax, points, labels, ["Coat", "Bag", "Ankle boot"])
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "2"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "0 Coat", "1 Bag", "2 Ankle boot"]
    # A class without a test image (a folder's own split) has no point, and no legend entry
    ax = Figure().add_subplot()
    plots.draw_scatter(ax, points, np.where(labels == 1, 2, labels), ["Coat", "Bag", "Boot"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0 Coat", "2 Boot"]
    assert [h.get_color() for h in ax.get_legend().legend_handles] == [
        plots.class_color(0), plots.class_color(2)]
    # where some name is a number, letters stand for the classes: '0 10' read as class 10
    ax = Figure().add_subplot()
    plots.draw_scatter(ax, points, labels, ["10", "2", "cats"])
    assert sorted(t.get_text() for t in ax.texts) == ["A", "B", "C"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A 10", "B 2", "C cats"]
    from vaelab.pictures.names import stand_ins  # a letter among the names: numbers again
    assert stand_ins(["10", "B", "cats"]) == ["0", "1", "2"]
    assert stand_ins(["10", "b", "cats"]) == ["A", "B", "C"]  # no letter is a name
    # Too many classes to name, a latent line's rows, or no classes: no names
    many = [str(c) for c in range(plots.MOST_NAMED + 1)]
    for classes, axis_labels in ((many, ("$z_1$", "$z_2$")), (["0", "1", "2"], ("$z$", "class")),
                                 ([], ("$z_1$", "$z_2$"))):
        ax = Figure().add_subplot()
        plots.draw_scatter(ax, points, labels if classes else np.zeros(600, int), classes,
                           axis_labels)
        assert not ax.texts, classes


def test_runs_that_share_their_prior_are_compared_on_one_scale(trained, tiny, tmp_path):
    """A VAE's codes spanned -3.5 to 3.8 and a β-VAE's -2.7 to 2.6, each on its own axes: the
    pull of β = 4 towards the prior, the point of the slide, could not be seen."""
    beta = train(RunConfig(ModelConfig("vae", hidden_dims=(64,)),
                           train=TrainConfig(epochs=2, batch_size=64, beta=4)),
                 tmp_path / "beta", data=tiny, progress=False)
    runs = [trained["vae"], beta]
    pictures = [latent_picture(run.model, tiny) for run in runs]
    shared = on_one_scale([run.model for run in runs], pictures)
    extents = {picture.manifold.extent for picture in shared}
    assert len(extents) == 1
    left, right, bottom, top = extents.pop()
    for picture in pictures:  # every code of both inside the one window
        u, v = picture.points.T
        assert left < u.min() and u.max() < right and bottom < v.min() and v.max() < top
    assert all(np.array_equal(a.points, b.points) for a, b in zip(pictures, shared, strict=True))
    # It is the union of the runs' own windows, not wider: one of them reaches each edge
    own = np.array([picture.manifold.extent for picture in pictures])
    assert np.allclose([own[:, 0].min(), own[:, 1].max(), own[:, 2].min(), own[:, 3].max()],
                       (left, right, bottom, top), atol=(right - left) / GRID)  # a tile
    # An AE has no prior, and d = 5 is seen on each run's own principal axes: each its own
    assert on_one_scale([trained["ae"].model, beta.model],
                        [latent_picture(trained["ae"].model, tiny), pictures[1]]) is None
    assert on_one_scale([trained["vae5"].model, beta.model],
                        [latent_picture(trained["vae5"].model, tiny), pictures[1]]) is None
    # The figure, as compare and the demo draw it, is on the one scale, and says so
    figure = comparison_figure(runs, pictures, tiny)
    assert figure.get_suptitle().endswith(")\none scale for all: the runs share the prior N(0, I)")
    codes = [cell.axes[0] for cell in figure.subfigs if cell.axes]
    assert codes[0].get_xlim() == codes[1].get_xlim() and codes[0].get_ylim() == codes[1].get_ylim()
    own = comparison_figure([trained["ae"], beta], [
        latent_picture(trained["ae"].model, tiny), pictures[1]], tiny).get_suptitle()
    assert own.endswith(")\neach in its own coordinates: mind the axes")  # as a slide too
    subset = dataclasses.replace(beta, config=dataclasses.replace(beta.config, data=(
        dataclasses.replace(beta.config.data, train_subset=300))))
    assert ", 300 training images, " in comparison_figure(  # as each run's figures say
        [subset, subset], pictures, tiny).get_suptitle()
    # Of other epochs: each run's label says its own, as the title cannot
    longer = dataclasses.replace(beta, weights_epoch=beta.epochs_done + 3)
    drawn = comparison_figure([beta, longer], pictures, tiny)
    assert " epoch" not in drawn.get_suptitle().split("\n")[0]
    labels = [cell._suptitle.get_text().replace("\n", " ") for cell in drawn.subfigs
              if cell._suptitle is not None]
    assert any(label.endswith(f", {beta.epochs_done} epochs") for label in labels), labels
    assert any(label.endswith(f", {beta.epochs_done + 3} epochs") for label in labels), labels
    drawn = comparison_figure([beta, subset], pictures, tiny)  # of other training images too
    labels = [cell._suptitle.get_text().replace("\n", " ") for cell in drawn.subfigs
              if cell._suptitle is not None]
    assert " training images" not in drawn.get_suptitle()
    assert any(label.endswith(f", {len(tiny.train_images):,} training images")
               for label in labels), labels
    assert any(label.endswith(", 300 training images") for label in labels), labels
    # Long class names are numbered on the codes and fit in the legend's column
    clothes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
    views = [LatentView(str(k), p.points, p.labels, p.manifold) for k, p in enumerate(shared)]
    fig = draw_comparison(views, clothes, title="t")
    fig.draw_without_rendering()
    legend = fig.subfigs[2].legends[0]
    assert legend.get_texts()[-1].get_text() == "9 Ankle boot"
    assert legend.get_window_extent().x1 <= fig.bbox.x1


def test_a_teacher_draws_some_figures_at_the_resolution_of_print(trained, tiny, tmp_path):
    """plot drew every figure at 150 pixels an inch: a handout of the codes and the loss
    curves meant drawing all eight and enlarging two of them, blurred."""
    ae, vae = trained["ae"], trained["vae"]
    paths = plot_run(vae, tiny, out_dir=tmp_path / "slides", only=["loss", "latent"], dpi=300)
    assert sorted(paths) == ["latent", "loss"]
    assert sorted(p.name for p in (tmp_path / "slides").glob("*.png")) == ["latent.png",
                                                                         "loss.png"]
    usual = plot_run(vae, tiny, out_dir=tmp_path / "usual", only=["latent"])["latent"]
    with Image.open(paths["latent"]) as sharp, Image.open(usual) as plain:
        assert sharp.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        assert sharp.width == pytest.approx(2 * plain.width, abs=4)  # the same inches
    for only, dpi, out, said in [
            (["samples"], 150, "x", rf"^{re.escape(str(ae.path))} \(an AE\) has no samples "
                                    r"figure; its figures are latent, manifold, "
                                    r"reconstructions, interpolation, loss$"),
            (["latnet"], 150, "x", r"^no figure is named 'latnet' \(did you mean latent\?\); "),
            (["latnet"], 150, None, r"^no figure is named 'latnet'"),  # the typo, not --out
            (None, 10, None, r"^dpi must be a whole number"),
            (["latent"], 150, None, r"^only= and dpi= draw figures for a folder of your own, "
                                    r"not the run's page: give out_dir too$"),
            (None, 600, ae.figures_dir, r"^only= and dpi= draw .* give out_dir other than the "
                                        r"run's figures/$"),
            ([], 150, "x", r"^only= names no figure; name one or more of latent, manifold, "),
            (None, 10, "x", r"^dpi must be a whole number from 30 to 1,200, got 10$")]:
        with pytest.raises(VaelabError, match=said):
            plot_run(ae, tiny, out_dir=out if out is None or out != "x" else tmp_path / "x",
                     only=only, dpi=dpi)
    assert not (tmp_path / "x").exists()  # refused before any figure is drawn


def test_plot_keeps_a_runs_figures_its_own(trained, tiny, tmp_path):
    """`vaelab plot runs/vae --out runs/ae/figures` wrote the VAE's figures over the AE's, and
    plotting the AE again left the VAE's samples.png there, which the AE's page then showed."""
    import shutil

    from vaelab.training.runs import load_run

    ae = load_run(shutil.copytree(trained["ae"].path, tmp_path / "ae"))
    with pytest.raises(VaelabError, match=rf"^{re.escape(str(ae.figures_dir))} is the figures "
                                          rf"folder of another run "
                                          rf"\({re.escape(str(ae.path.resolve()))}\), whose page "
                                          r"would show these figures as its own"):
        plot_run(trained["vae"], tiny, out_dir=ae.figures_dir)
    with pytest.raises(VaelabError, match=rf"^{re.escape(str(ae.path))} is another run's "
                                          r"folder, among whose files these figures would lie"):
        plot_run(trained["vae"], tiny, out_dir=ae.path)  # its own root: 8 PNGs among them
    plot_run(trained["vae"], tiny, out_dir=ae.path / "slides")  # which no page shows
    shutil.copy(trained["vae"].figures_dir / "samples.png", ae.figures_dir)  # as it was left
    plot_run(ae, tiny)
    assert not (ae.figures_dir / "samples.png").exists()
    assert "samples.png" not in (ae.path / "index.html").read_text()
    # Figures drawn elsewhere are left as they are, beside what else is there
    print_dir = tmp_path / "print"
    print_dir.mkdir()
    (print_dir / "samples.png").write_bytes(b"mine")
    plot_run(ae, tiny, out_dir=print_dir)
    assert (print_dir / "samples.png").read_bytes() == b"mine"
    # but not another run's figures drawn there with --out, which these would replace
    plot_run(ae, tiny, out_dir=print_dir, fmt="svg")  # its own again, in another format
    with pytest.raises(VaelabError, match=rf"^{re.escape(str(print_dir))} holds the figures of "
                                          rf"another run \({re.escape(str(ae.path.resolve()))}"
                                          r"\), which these would replace or mix with; choose "
                                          r"another out_dir, one for each run, such as "
                                          rf"{re.escape(str(print_dir / 'vae'))} \(or remove "
                                          r".*\.vaelab-figures-of, if they may go\)$"):
        plot_run(trained["vae"], tiny, out_dir=print_dir)
    # Once those figures are removed, or their run has moved, the folder is free again
    for path in print_dir.iterdir():  # every figure; the hidden file that names them stays
        if not path.name.startswith("."):
            path.unlink()
    assert (print_dir / ".vaelab-figures-of").is_file()
    plot_run(trained["vae"], tiny, out_dir=print_dir, fmt="svg")
    moved = load_run(shutil.move(trained["vae"].path, tmp_path / "moved"))
    try:
        plot_run(moved, tiny, out_dir=print_dir, fmt="svg")  # the same run, elsewhere now
    finally:
        shutil.move(moved.path, trained["vae"].path)


def test_samples_and_the_explorer_keep_off_a_runs_and_a_demos_own_files(trained, tiny,
                                                                        tmp_path):
    """`vaelab explore runs/a -o demo/index.html` replaced a demo's page (which `demo --resume`
    then called finished), and `vaelab sample runs/a -o runs/b/figures/samples.png` a run's
    figure, without a word. Files beside a run's own (its samples.png) may be written again."""
    import shutil

    from vaelab import export_explorer, write_samples
    from vaelab.training.folders import DEMO_PLAN

    vae = trained["vae"]
    other = shutil.copytree(trained["ae"].path, tmp_path / "ae")
    demo = tmp_path / "demo"
    demo.mkdir()
    for name in (DEMO_PLAN, "index.html", "comparison.png"):
        (demo / name).write_text("the demo's own")
    (other / "index.html").write_text("the run's own")
    compared = tmp_path / "cmp"  # as vaelab compare writes it
    compared.mkdir()
    for name in ("compare.md", "compare.png"):
        (compared / name).write_text("the comparison's own")
    for write, path, whose in (
            (export_explorer, demo / "index.html", f"the demo in {demo.resolve()}"),
            (export_explorer, other / "index.html", f"the run {other.resolve()}"),
            (write_samples, other / "figures" / "latent.png", f"the run {other.resolve()}"),
            (write_samples, demo / "comparison.png", f"the demo in {demo.resolve()}"),
            (write_samples, compared / "compare.png", f"the comparison in {compared.resolve()}")):
        with pytest.raises(VaelabError, match=rf"^{re.escape(str(path))} is a file of "
                                              rf"{re.escape(whose)}, which this would "
                                              r"overwrite; choose another path$"):
            write(vae, path)  # from Python: the argument, not the command line's --out
    assert all((demo / name).read_text() == "the demo's own" for name in ("index.html",
                                                                          "comparison.png"))
    with pytest.raises(VaelabError, match=r" is given twice; name each run once$"):
        export_explorer([vae, vae.path], tmp_path / "twice.html", tiny, progress=False)
    write_samples(vae, other / "samples.png", n=4)
    write_samples(vae, other / "samples.png", n=4)  # again, over its own
    export_explorer(vae, other / "explorer.html", tiny, progress=False)
    export_explorer(vae, other / "explorer.html", tiny, progress=False)


def test_a_comparisons_legend_of_many_classes_stays_on_the_page():
    """Beside the top codes, 36 classes ran over the title, and 60 past both edges."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(600, 2))
    u, v = np.linspace(-3, 3, 21), np.linspace(-3, 3, 21)
    manifold = Manifold(np.zeros((21 * 28, 21 * 28)), u, v)
    for runs, classes in ((2, 36), (4, 60), (2, 12)):
        names = [f"class {c}" for c in range(classes)]
        views = [LatentView(str(k), points, np.arange(600) % classes, manifold)
                 for k in range(runs)]
        fig = draw_comparison(views, names, title="t")
        fig.draw_without_rendering()
        legend = next(owner.legends[0] for owner in (fig, *fig.subfigs) if owner.legends)
        box, title = legend.get_window_extent(), fig._suptitle.get_window_extent()
        assert len(legend.get_texts()) == classes
        assert box.y0 >= 0 and box.y1 < title.y0 and box.x1 <= fig.bbox.x1, (runs, classes)
        codes = [cell.axes[0].get_window_extent() for cell in fig.subfigs if cell.axes]
        assert box.x0 > max(c.x1 for c in codes), (runs, classes)  # beside, not over, them


def test_twenty_classes_are_twenty_colours_and_the_first_ten_are_tab10():
    """Classes 0, 10, 20 and 30 were one blue: past ten, the legend named no class."""
    import matplotlib

    colours = [plots.class_color(i) for i in range(20)]
    assert colours[:10] == list(matplotlib.colormaps["tab10"].colors)  # MNIST's as before
    assert len(set(colours)) == 20
    assert plots.class_color(20) == colours[0]  # more repeat them (named on the codes)


def test_a_pages_side_by_side_caption_says_whether_the_runs_share_one_scale(trained, tmp_path):
    """The demo's page said "each in its own coordinates" of a VAE and a CVAE drawn on one."""
    top = trained["vae"].figures_dir / "latent.png"
    for runs, said in (([trained["vae"], trained["vae"]], "all on one scale, as the models "
                                                          "share the prior N(0, I)."),
                       ([trained["ae"], trained["vae"]], "each in its own coordinates: mind "
                                                         "the axes."),
                       ([trained["vae5"], trained["vae"]], "each in its own coordinates")):
        page = write_report(runs, tmp_path / "index.html", title="t", top_figure=top)
        assert f"its decoder over the same region below, {said}" in page.read_text()


@pytest.mark.parametrize("evenly_spaced", [True, False])
def test_decoder_tiles_keep_their_images_shape(evenly_spaced):
    """Images twice as wide as high were drawn in square cells, circles as tall ellipses."""
    steps = np.linspace(-1.0, 1.0, 3)
    for (h, w), ratio in (((24, 48), 0.5), ((28, 28), 1.0), ((30, 10), 3.0)):
        manifold = Manifold(np.zeros((3 * h, 3 * w)), steps, steps, evenly_spaced)
        ax = plots.manifold_figure(manifold, title="tiles").axes[0]
        (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
        # a pixel as high on the page as it is wide: y units drawn `aspect` times an x unit's
        pixel_w, pixel_h = (right - left) / (3 * w), ax.get_aspect() * (top - bottom) / (3 * h)
        assert ax.get_aspect() == pytest.approx(ratio) and pixel_h == pytest.approx(pixel_w)


def test_classes_past_twenty_take_the_colours_again_with_another_marker():
    """Twenty-five classes drew species_20 to species_24 exactly as species_00 to species_04."""
    classes = [f"species_{c:02d}" for c in range(25)]
    labels = np.arange(250) % 25
    points = np.random.default_rng(0).normal(size=(250, 2))
    fig = plots.latent_scatter(points, labels, classes, title="t")
    ax = fig.axes[0]
    drawn = {len(collection.get_offsets()) for collection in ax.collections}
    assert len(ax.collections) == 2 and drawn == {200, 50}  # circles, then triangles
    handles = ax.get_legend().legend_handles
    seen = [(handle.get_marker(), handle.get_color()) for handle in handles]
    assert len(set(seen)) == 25 and seen[20] == ("^", seen[0][1]) and seen[19][0] == "o"
    # Ten classes, as MNIST's: one collection of circles, as before
    few = plots.latent_scatter(points, labels % 10, [str(c) for c in range(10)], title="t")
    assert len(few.axes[0].collections) == 1


def test_an_evaluation_of_more_epochs_than_the_run_has_now_is_said_too():
    """A run trained again from fewer epochs (another folder copied over it, say) holds an
    eval.json of more epochs than its weights: as stale as one of fewer."""
    from types import SimpleNamespace

    from vaelab.pictures.report import older_than

    run = SimpleNamespace(epochs_done=3, path=Path("runs/vae"))
    assert older_than(SimpleNamespace(epochs=3), run) == ""
    for epochs in (2, 5):
        assert older_than(SimpleNamespace(epochs=epochs), run).startswith(
            f"Measured after {epochs} epochs; the run has 3 now: vaelab eval runs/vae")


def test_samples_are_the_seeds_draws_and_a_cvae_gets_a_row_per_class_from_one_each(trained):
    """draw_samples(seed=s) is the model's sample from a generator seeded s; a conditional
    model's grid puts one class a row as soon as there is a draw of each class."""
    from types import SimpleNamespace

    from vaelab.pictures.samples import a_row_per_class, draw_samples

    run = trained["vae"]
    expected = run.model.sample(8, generator=torch.Generator().manual_seed(7))
    assert torch.equal(draw_samples(run, 8, seed=7), expected)
    cvae = SimpleNamespace(model=SimpleNamespace(conditional=True, classes=10))
    assert a_row_per_class(cvae, 10, None) and not a_row_per_class(cvae, 9, None)
    assert not a_row_per_class(cvae, 10, "3")  # one class asked for: a plain grid


def test_a_run_page_s_command_draws_its_figures_again_with_the_classes_they_show(tiny, tmp_path):
    """The page said `vaelab plot RUN` under figures drawn with --between or --label, and
    that command drew other ones; a measuring that writes the page again keeps them. The
    figures keep the classes as numbers, and the page names and quotes them itself."""
    import html
    import shlex

    from PIL import PngImagePlugin

    from vaelab.cli.parsing import parse
    from vaelab.data import ImageData
    from vaelab.files import quoted
    from vaelab.pictures.choice import DRAWN_WITH
    from vaelab.pictures.report import write_run_page

    names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot")
    data = ImageData("mine", names, tiny.train_images, tiny.train_labels, tiny.test_images,
                     tiny.test_labels)
    config = RunConfig(ModelConfig("cvae", latent_dims=2, hidden_dims=(32,)),
                       DataConfig(dataset="mine"), TrainConfig(epochs=1, batch_size=64))
    run = train(config, tmp_path / "my run", data=data, progress=False)

    def command() -> str:  # the page's, written again as vaelab eval writes it
        page = write_run_page(run).read_text()
        return html.unescape(re.search(r"To make it again:.*?<code>(.*?)</code>", page,
                                       re.S)[1])

    plot_run(run, data, label="Coat", between=("Ankle boot", 0))
    said = f"vaelab plot {quoted(run.path)} --label Coat --between 'Ankle boot' T-shirt/top"
    assert command() == said
    options = parse(shlex.split(said)[1:])  # as pasted into a shell, the same choice
    assert (options.label, tuple(options.between)) == ("Coat", ("Ankle boot", "T-shirt/top"))
    plot_run(run, data)  # its own choice again
    assert command() == f"vaelab plot {quoted(run.path)}"
    forged = PngImagePlugin.PngInfo()  # text that is no choice of this run's: left out
    for text in ('{"label": 3, "between": [1, 70]}', "--label 3; rm -rf ~", "[]"):
        forged.add_text(DRAWN_WITH, text)
        with Image.open(run.figures_dir / "latent.png") as png:
            png.save(run.figures_dir / "interpolation.png", pnginfo=forged)
        assert command() == f"vaelab plot {quoted(run.path)}", text
    (run.figures_dir / "interpolation.png").write_bytes(b"not a png")  # left out, not an error
    assert command() == f"vaelab plot {quoted(run.path)}"


def test_drawing_and_measuring_leave_a_callers_model_in_the_mode_it_was_in(tiny, tmp_path):
    """A model the caller was training is training after vaelab draws, samples, measures or
    compares with it (each put the model in eval mode and left it there)."""
    from vaelab import compare_runs, evaluate_run, write_samples
    from vaelab.measuring.latent import decode_all, encode_dataset

    config = RunConfig(ModelConfig("vae", hidden_dims=(16,)), train=TrainConfig(epochs=1))
    vae = train(config, tmp_path / "vae", data=tiny, progress=False)
    ae = train(dataclasses.replace(config, model=ModelConfig("ae", hidden_dims=(16,))),
               tmp_path / "ae", data=tiny, progress=False)
    calls = {"plot_run": lambda out: plot_run(vae, tiny, out_dir=out),
             "write_samples": lambda out: write_samples(vae, out.with_suffix(".png")),
             "evaluate_run": lambda _: evaluate_run(vae, tiny, k=2, samples=1, judge=None,
                                                    progress=False),
             "compare_runs": lambda out: compare_runs([vae, ae], out, data=tiny, judge=None,
                                                      k=2, progress=False),
             "encode_dataset": lambda _: encode_dataset(vae.model, tiny.test_images[:5]),
             "decode_all": lambda _: decode_all(vae.model, torch.zeros(3, 2)),
             # and each with its first argument given by name, as before the modes were kept
             "evaluate_run(run=)": lambda _: evaluate_run(run=vae, data=tiny, k=2, samples=1,
                                                         judge=None, progress=False),
             "compare_runs(runs=)": lambda out: compare_runs(runs=[vae, ae], out=out, data=tiny,
                                                            judge=None, k=2, progress=False),
             "encode_dataset(model=)": lambda _: encode_dataset(model=vae.model,
                                                                images=tiny.test_images[:5]),
             "decode_all(model=)": lambda _: decode_all(model=vae.model, z=torch.zeros(3, 2))}
    for name, call in calls.items():
        for training in (True, False):
            vae.model.train(training)
            ae.model.train(training)
            call(tmp_path / f"{name}-{training}")
            assert vae.model.training is training and ae.model.training is training, name


def test_a_runs_page_says_when_its_figures_are_of_an_earlier_epoch(tiny, tmp_path):
    """Resumed with --no-plots and measured again, a run's page gave the new epochs' numbers
    beside the old figures without a word."""
    from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vaelab.pictures.report import write_run_page
    from vaelab.training.loop import resume, train
    from vaelab.training.runs import load_run

    config = RunConfig(ModelConfig(hidden_dims=(16,)), DataConfig(train_subset=128),
                       TrainConfig(epochs=1))
    run = train(config, tmp_path / "run", data=tiny, progress=False)
    plot_run(run, tiny)
    said = "Its figures are of epoch 1: vaelab plot "
    assert said not in (run.path / "index.html").read_text()
    resume(run.path, epochs=2, data=tiny, progress=False)  # no figures drawn
    page = write_run_page(load_run(run.path)).read_text()
    assert f"{said}{run.path} draws them again." in page
    plot_run(load_run(run.path), tiny)  # drawn again: of epoch 2
    assert said not in (run.path / "index.html").read_text()
    # A posterior collapsed onto the prior is said on the page, as training says it
    run = load_run(run.path)

    def with_kl(kl: float) -> str:
        metrics = [{**m, "test": {**m["test"], "kl": kl}} for m in run.metrics]
        return write_run_page(dataclasses.replace(run, metrics=metrics)).read_text()

    assert ("Its posterior collapsed onto the prior (a test KL of 0.004 nats an image): the "
            "codes say almost nothing of the images") in with_kl(0.004)
    assert "collapsed" not in with_kl(5.0)
    # and on a demo's page, which named no collapse, of the run that collapsed
    from vaelab.demo import Laps, _page

    laps = Laps()
    for stage in ("training", "figures", "measuring"):
        laps.lap(stage)

    def demo_page(kl: float) -> str:
        metrics = [{**m, "test": {**m["test"], "kl": kl}} for m in run.metrics]
        return html.unescape(_page([dataclasses.replace(run, metrics=metrics)], tmp_path,
                                   run.path / "figures" / "reconstructions.png", None,
                                   [run.config], laps, "cpu").read_text())

    assert ("The VAE's posterior collapsed onto the prior (a test KL of 0.004 nats an image)"
            in demo_page(0.004))
    assert "collapsed" not in demo_page(5.0)
