"""Make the figures that the README and docs/theory.md show, from a real demo run.

    python docs/make_figures.py                      # runs `vaelab demo` (1.5 to 2.5 minutes)
    python docs/make_figures.py --demo vaelab-demo   # or takes the figures of an earlier one

Copies are shrunk to at most ``--width`` pixels and stored in grey or with a 256-colour
palette (which holds the class colours exactly), so that the repository stays small.
docs/figures/tutorial_kl.png comes from benchmarks/tutorial_kl.py instead.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from matplotlib.colors import to_rgb
from PIL import Image

from vaelab.pictures.plots import CLASS_COLORS

HERE = Path(__file__).resolve().parent

# (source inside the demo folder, name under docs/figures/)
FIGURES = [
    ("comparison.png", "comparison.png"),
    ("vae/figures/samples.png", "vae_samples.png"),
    ("vae/figures/manifold_prior.png", "vae_manifold_prior.png"),
    ("ae/figures/manifold.png", "ae_manifold.png"),
    ("vae/figures/reconstructions.png", "vae_reconstructions.png"),
    ("ae/figures/interpolation.png", "ae_interpolation.png"),
    ("vae/figures/interpolation.png", "vae_interpolation.png"),
]


def shrink(source: Path, target: Path, width: int) -> None:
    image = Image.open(source).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    red, green, blue = image.split()
    if red.tobytes() == green.tobytes() == blue.tobytes():  # grey: 8 bits a pixel suffice
        image.convert("L").save(target, optimize=True)
    else:
        paletted(image).save(target, optimize=True)


def paletted(image: Image.Image) -> Image.Image:
    """``image`` in 256 colours: the ten class colours exactly, so that no class of a scatter
    plot takes another's colour (a palette by pixel counts alone merges the small markers'),
    and 246 more where the image's colours are (an octree of them)."""
    classes = [round(255 * channel) for colour in CLASS_COLORS for channel in to_rgb(colour)]
    rest = image.quantize(colors=256 - len(CLASS_COLORS), method=Image.Quantize.FASTOCTREE)
    palette = Image.new("P", (1, 1))
    palette.putpalette(classes + rest.getpalette()[:3 * (256 - len(CLASS_COLORS))])
    return image.quantize(palette=palette, dither=Image.Dither.NONE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=None, help="an existing demo folder")
    parser.add_argument("--width", type=int, default=900)
    parser.add_argument("--out", type=Path, default=HERE / "figures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = args.demo
        if demo is None:
            from vaelab.demo import run_demo

            demo = run_demo(Path(tmp) / "demo", progress=False).parent
        for source, name in FIGURES:
            shrink(demo / source, args.out / name, args.width)
            print(args.out / name)
        kl_figure = args.out / "tutorial_kl.png"  # written by benchmarks/tutorial_kl.py
        if kl_figure.exists() and Image.open(kl_figure).mode not in ("P", "L"):  # not yet
            shrink(kl_figure, kl_figure, args.width)
        gif = args.out / "vae_interpolation.gif"
        gif.write_bytes((demo / "vae/figures/interpolation.gif").read_bytes())
        print(gif)


if __name__ == "__main__":
    main()
