"""Make docs/figures/explorer.png: the latent explorer of the tutorial's VAE, in headless
Chromium, with the pointer on the plane, the line between a test 0 and a test 1 picked, and a
7 drawn with the mouse.

    python docs/make_explorer_figure.py --run runs/vae     # a trained tutorial VAE
    python docs/make_explorer_figure.py                    # trains one first (20 epochs)
    python docs/make_explorer_figure.py --run runs/vae --shaded   # the classifier's layer on
    python docs/make_explorer_figure.py --run vaelab-demo/ae vaelab-demo/vae --shaded \
        --out docs/figures/explorer-side-by-side.png     # the demo's two runs on one page

Needs Playwright and Chromium (pip install -e '.[test]'; apt-get install chromium).
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
SEVEN = [(7, 6), (21, 6), (18, 12), (15, 17), (12, 23)]  # the strokes of a 7, in pixels of 28


def trained_runs(runs: list[Path] | None, folder: Path) -> list[Path]:
    if runs:
        return runs
    from vaelab import RunConfig, TrainConfig, train

    return [train(RunConfig(train=TrainConfig(epochs=20, seed=0)), folder / "vae").path]


def first_code_of(page, classes: tuple[str, ...]) -> list[list[float]]:
    """Screen positions of the first test code of each of ``classes`` on the plane."""
    return page.evaluate("""(classes) => {
        const data = JSON.parse(document.getElementById('explorer-data').textContent).runs[0];
        const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const codes = new Float32Array(bytes(data.codes).buffer), d = data.model.latent_dims;
        const labels = new Uint16Array(bytes(data.labels).buffer);  // 16 bits a label
        return classes.map((name) => {
            const n = labels.findIndex((c) => data.classes[c] === name);
            return window.explorer.toScreen(codes.subarray(n * d, (n + 1) * d));
        });
    }""", list(classes))


def screenshot(page_path: Path, chromium: str, shaded: bool = False) -> bytes:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1300})
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-ready='1']", state="attached")
        plane = page.locator(".overlay").first.bounding_box()
        if shaded:
            for toggle in page.locator(".shade-toggle").all():  # each run's own layer
                toggle.check()
        for x, y in first_code_of(page, ("0", "1")):
            page.mouse.click(plane["x"] + x, plane["y"] + y)
        pad = page.locator(".draw").first.bounding_box()
        scale = pad["width"] / 28
        page.mouse.move(pad["x"] + SEVEN[0][0] * scale, pad["y"] + SEVEN[0][1] * scale)
        page.mouse.down()
        for x, y in SEVEN[1:]:
            page.mouse.move(pad["x"] + x * scale, pad["y"] + y * scale, steps=8)
        page.mouse.up()
        page.mouse.move(plane["x"] + plane["width"] * 0.62, plane["y"] + plane["height"] * 0.3)
        page.wait_for_timeout(900)  # the animation halfway there
        bottom = page.evaluate("Math.max(...[...document.querySelectorAll("
                               "'.plane-section, aside')].map((e) => "
                               "e.getBoundingClientRect().bottom))")
        png = page.screenshot(clip={"x": 0, "y": 0, "width": 1280, "height": bottom + 14})
        browser.close()
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, nargs="+", default=None,
                        help="a trained tutorial VAE, or several runs for one page")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=HERE / "figures" / "explorer.png")
    parser.add_argument("--shaded", action="store_true",
                        help="shade where the classifier is sure (needs it in the user cache)")
    args = parser.parse_args()
    from vaelab.pictures.explore import export_explorer

    with tempfile.TemporaryDirectory() as tmp:
        from vaelab.training.runs import load_run

        runs = [load_run(path) for path in trained_runs(args.run, Path(tmp))]
        page = export_explorer(runs, Path(tmp) / "explorer.html", progress=False)
        png = screenshot(page, args.chromium, args.shaded)
    image = Image.open(io.BytesIO(png)).convert("RGB")  # 256 colours keep it under 100 KB
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(args.out, optimize=True)
    print(f"{args.out}: {image.width} x {image.height}, {args.out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
