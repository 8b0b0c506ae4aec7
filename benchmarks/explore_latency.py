"""Hover-to-pixels latency of the latent explorer in Chromium, against one frame at 60 Hz (16 ms).

For each architecture at its default size (dense and convolutional, a conditional one among
them), a model with fresh weights (decoding costs the same trained or not) and the codes of
5,000 random images make an explorer page, which headless Chromium opens from file://.
Playwright moves the mouse over the plane ``--moves`` times, through Chromium's own input
pipeline; for each move the page records the time from the pointer event's time stamp to the
decoded image's putImageData being done (performance.now() has a resolution of 0.1 ms).
The first ``--warmup`` moves, while the JavaScript engine compiles the decoder, are left out.

Prints the decoder's multiply-adds per image, p50, p95 and max per architecture, and p95 as
a share of the 16 ms target.

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
from vaelab.models import Autoencoder, build_model
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
    "conv VAE (conv 1-32-64, 3136-512-2)": ModelConfig(model="vae", arch="conv"),
    "conv CVAE (conv 1-32-64, 3136+10-512-2)": ModelConfig(model="cvae", arch="conv"),
}


def random_images(n: int = 5000, seed: int = 0) -> ImageData:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), generator=g)
    return ImageData("mnist", DATASETS["mnist"].classes, images[:1], labels[:1], images, labels)


def page_for(model: Autoencoder, config: ModelConfig, data: ImageData, folder: Path) -> Path:
    name = f"{config.model}-{config.arch}-{config.latent_dims}"
    (folder / name).mkdir(exist_ok=True)  # a run's folder, though without its files
    run = Run(folder / name, RunConfig(model=config), model)
    return export_explorer(run, folder / f"{name}.html", data, progress=False)


@torch.inference_mode()
def decoder_macs(model: Autoencoder) -> int:
    """Multiply-adds of one decoding: each Linear's in x out, each transposed convolution's
    input values x its output channels x kernel size."""
    macs = []

    def count(layer: torch.nn.Module, inputs: tuple[torch.Tensor, ...], _) -> None:
        if isinstance(layer, torch.nn.Linear):
            macs.append(layer.in_features * layer.out_features)
        elif isinstance(layer, torch.nn.ConvTranspose2d):
            macs.append(inputs[0][0].numel() * layer.out_channels * math.prod(layer.kernel_size))

    hooks = [m.register_forward_hook(count) for m in model.decoder.modules()]
    y = torch.zeros(1, dtype=torch.long) if model.conditional else None
    model.decode(torch.zeros(1, model.latent_dims), y)
    for hook in hooks:
        hook.remove()
    return sum(macs)


def hover_latencies(browser, page_path: Path, moves: int, warmup: int) -> np.ndarray:
    """ms from each mousemove to its pixels, along a Lissajous path over the plane."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(page_path.as_uri())
    page.wait_for_selector("body[data-ready='1']", state="attached")
    box = page.locator(".overlay").bounding_box()
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
        for name, config in ARCHITECTURES.items():
            torch.manual_seed(0)
            model = build_model(config, data.image_shape, len(data.classes)).eval()
            page = page_for(model, config, data, Path(tmp))
            latency = hover_latencies(browser, page, args.moves, args.warmup)
            p50, p95 = np.percentile(latency, [50, 95])
            rows.append((name, decoder_macs(model) / 1e6, p50, p95, latency.max(),
                         p95 / TARGET_MS))
        version = browser.version
        browser.close()
    print(f"hover to pixels in Chromium {version}, {args.moves} moves each (ms)\n")
    width = max(len(row[0]) for row in rows)
    print(f"| {'architecture':<{width}} | M mult-adds |  p50 |  p95 |   max | p95 / 16 ms |")
    print(f"|{'-' * (width + 2)}|------------:|-----:|-----:|------:|------------:|")
    for name, macs, p50, p95, worst, share in rows:
        print(f"| {name:<{width}} | {macs:11.2f} | {p50:4.1f} | {p95:4.1f} | {worst:5.1f} | "
              f"{share:11.2f} |")


if __name__ == "__main__":
    main()
