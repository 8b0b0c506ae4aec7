"""Hover-to-pixels latency of the latent explorer in Chromium, against one frame at 60 Hz (16 ms).

For each architecture, a model with fresh weights (decoding costs the same trained or not) and
the codes of 5,000 random images make an explorer page, which headless Chromium opens from
file://. Playwright moves the mouse over the plane ``--moves`` times, through Chromium's own
input pipeline; for each move the page records the time from the pointer event's time stamp to
the decoded image's putImageData being done (performance.now() has a resolution of 0.1 ms).
The first ``--warmup`` moves, while the JavaScript engine compiles the decoder, are left out.

Prints p50, p95 and max per architecture, and p95 as a share of the 16 ms target.

Usage: python benchmarks/explore_latency.py [--moves 400] [--warmup 20] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np
import torch

from vaelab.config import ModelConfig, RunConfig
from vaelab.data import DATASETS, ImageData
from vaelab.models import build_model
from vaelab.pictures.explore import export_explorer
from vaelab.training.runs import Run

TARGET_MS = 16.0
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]

ARCHITECTURES = {
    "tutorial AE (784-512-2, ReLU)": ModelConfig(model="ae"),
    "tutorial VAE (784-512-2, ReLU)": ModelConfig(model="vae"),
    "VAE, 16 latents (784-512-16, ReLU)": ModelConfig(model="vae", latent_dims=16),
    "IWAE paper (784-200-200-50, tanh)": ModelConfig(model="vae", latent_dims=50,
                                                     hidden_dims=(200, 200), activation="tanh"),
}


def random_images(n: int = 5000, seed: int = 0) -> ImageData:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), generator=g)
    return ImageData("mnist", DATASETS["mnist"].classes, images[:1], labels[:1], images, labels)


def page_for(model: ModelConfig, data: ImageData, folder: Path) -> Path:
    torch.manual_seed(0)
    config = RunConfig(model=model)
    run = Run(folder / model.model, config, build_model(model, data.image_shape).eval())
    return export_explorer(run, folder / f"{model.model}-{model.latent_dims}.html", data)


def hover_latencies(browser, page_path: Path, moves: int, warmup: int) -> np.ndarray:
    """ms from each mousemove to its pixels, along a Lissajous path over the plane."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(page_path.as_uri())
    page.wait_for_selector("body[data-ready='1']", state="attached")
    box = page.locator("#overlay").bounding_box()
    for k in range(warmup + moves):
        t = 2 * math.pi * k / (warmup + moves)
        x = box["x"] + box["width"] * (0.5 + 0.45 * math.sin(3 * t))
        y = box["y"] + box["height"] * (0.5 + 0.45 * math.sin(4 * t + 0.5))
        page.mouse.move(x, y)
    latency = np.asarray(page.evaluate("window.explorer.latency"))
    page.close()
    if len(latency) != warmup + moves:
        raise SystemExit(f"{page_path.name}: {len(latency)} hovers recorded for "
                         f"{warmup + moves} moves")
    return latency[warmup:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data = random_images()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        for name, model in ARCHITECTURES.items():
            latency = hover_latencies(browser, page_for(model, data, Path(tmp)), args.moves,
                                      args.warmup)
            p50, p95 = np.percentile(latency, [50, 95])
            rows.append((name, p50, p95, latency.max(), p95 / TARGET_MS))
        version = browser.version
        browser.close()
    print(f"hover to pixels in Chromium {version}, {args.moves} moves each (ms)\n")
    width = max(len(row[0]) for row in rows)
    print(f"| {'architecture':<{width}} |  p50 |  p95 |   max | p95 / 16 ms |")
    print(f"|{'-' * (width + 2)}|-----:|-----:|------:|------------:|")
    for name, p50, p95, worst, share in rows:
        print(f"| {name:<{width}} | {p50:4.1f} | {p95:4.1f} | {worst:5.1f} | {share:11.2f} |")


if __name__ == "__main__":
    main()
