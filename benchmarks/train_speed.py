"""Training speed of the tutorial's VAE, against other ways of running the same model.

Every row trains 784-512-2 (ReLU, sigmoid output; the encoder's mean and log-variance heads),
batch 128, Adam at 1e-3, summed squared error + KL, on the same MNIST images, in this one
process, one after another, so that the ratios hold on a noisy machine:

  vaelab                 vaelab.training.loop.train_epoch: data on the device as one uint8 tensor,
                         batches as index slices, fused Adam
  vaelab, 2 side by side two runs at once with train_all, one thread each; images per second
                         counted over both
  PyTorch examples loop  the loop of pytorch/examples vae/main.py with the tutorial's sizes:
                         DataLoader over a TensorDataset (per-sample indexing and collation),
                         loss.item() every step, default Adam
  pythae                 pythae's BaseTrainer.train_step with its default MLP VAE (the same
                         784-512-2 layers), if pythae is installed (pip install pythae)
  matmul floor           the eleven matrix products of each step and nothing else: what the
                         hardware must do at least

Usage: python benchmarks/train_speed.py [--images 20000] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from timing import time_round_robin
from vaelab.config import RunConfig, TrainConfig
from vaelab.data import load_dataset
from vaelab.models import build_model
from vaelab.training.loop import train_epoch

BATCH = 128
SHAPE = (1, 28, 28)


def vaelab_epoch(images: torch.Tensor) -> Callable[[], None]:
    config = RunConfig(train=TrainConfig(batch_size=BATCH))
    torch.manual_seed(0)
    model = build_model(config.model, SHAPE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    generator = torch.Generator().manual_seed(0)
    return lambda: train_epoch(model, optimizer, images, config.train, generator)


def vaelab_side_by_side(images: torch.Tensor) -> Callable[[], None]:
    """Two runs at once, one thread each, as vaelab.train_all does on a CPU."""
    epochs = [vaelab_epoch(images) for _ in range(2)]

    def run() -> None:
        threads_before = torch.get_num_threads()
        torch.set_num_threads(max(1, threads_before // 2))
        workers = [threading.Thread(target=epoch) for epoch in epochs]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        torch.set_num_threads(threads_before)

    return run


class ExamplesVAE(nn.Module):
    """pytorch/examples vae/main.py, with the tutorial's layer sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.fc21 = nn.Linear(512, 2)
        self.fc22 = nn.Linear(512, 2)
        self.fc3 = nn.Linear(2, 512)
        self.fc4 = nn.Linear(512, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def examples_epoch(images: torch.Tensor) -> Callable[[], None]:
    torch.manual_seed(0)
    dataset = torch.utils.data.TensorDataset(images.float() / 255, torch.zeros(len(images)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
    model = ExamplesVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run() -> None:
        model.train()
        train_loss = 0.0
        for data, _ in loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            sse = F.mse_loss(recon, data.view(-1, 784), reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = sse + kld
            loss.backward()
            train_loss += loss.item()
            optimizer.step()

    return run


def pythae_epoch(images: torch.Tensor, out_dir: str) -> Callable[[], None] | None:
    try:
        from pythae.data.datasets import BaseDataset
        from pythae.models import VAE, VAEConfig
        from pythae.trainers import BaseTrainer, BaseTrainerConfig
    except ImportError:
        return None
    import logging

    logging.getLogger("pythae").setLevel(logging.ERROR)
    torch.manual_seed(0)
    model = VAE(VAEConfig(input_dim=SHAPE, latent_dim=2, reconstruction_loss="mse"))
    config = BaseTrainerConfig(output_dir=out_dir, num_epochs=1, learning_rate=1e-3,
                               per_device_train_batch_size=BATCH, no_cuda=True)
    dataset = BaseDataset(images.float() / 255, torch.zeros(len(images)))
    trainer = BaseTrainer(model, dataset, training_config=config)
    trainer.prepare_training()  # optimizer, callbacks: what BaseTrainer.train does first
    trainer.callback_handler.callbacks = []  # no progress bar, as in every other row
    return lambda: trainer.train_step(1)


def matmul_floor(n_images: int) -> Callable[[], None]:
    """Each step's matrix products at the step's shapes and nothing else: forward through the
    four layers (4 products), then each layer's weight gradient and every input gradient but
    the first layer's, which the images do not need (7): five large products, six small."""
    g = torch.Generator().manual_seed(0)

    def r(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g)

    w1, w2, w3, w4 = r(512, 784), r(4, 512), r(512, 2), r(784, 512)
    b1, b2, b3, b4 = r(512), r(4), r(512), r(784)
    x, h1, z, h3 = r(BATCH, 784), r(BATCH, 512), r(BATCH, 2), r(BATCH, 512)
    g4, g3, g2, g1 = r(BATCH, 784), r(BATCH, 512), r(BATCH, 4), r(BATCH, 512)
    steps = -(-n_images // BATCH)

    def run() -> None:
        for _ in range(steps):
            torch.addmm(b1, x, w1.t())  # forward, (B, 784) -> (B, 512)
            torch.addmm(b2, h1, w2.t())  # (B, 512) -> (B, 4): mean and log-variance
            torch.addmm(b3, z, w3.t())  # (B, 2) -> (B, 512)
            torch.addmm(b4, h3, w4.t())  # (B, 512) -> (B, 784)
            g4.t() @ h3, g4 @ w4  # backward through the last layer: weight and input
            g3.t() @ z, g3 @ w3
            g2.t() @ h1, g2 @ w2
            g1.t() @ x  # the first layer's weight; the images need no gradient

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    images = load_dataset("mnist", args.data_dir, progress=False).train_images[:args.images]
    n = len(images)
    with tempfile.TemporaryDirectory() as tmp:
        candidates = {
            "vaelab": (vaelab_epoch(images), n),
            "vaelab, 2 runs side by side": (vaelab_side_by_side(images), 2 * n),
            "PyTorch examples loop": (examples_epoch(images), n),
            "pythae": (pythae_epoch(images, tmp), n),
            "matmul floor": (matmul_floor(n), n),
        }
        present = {name: run for name, (run, _) in candidates.items() if run is not None}
        for name in candidates.keys() - present.keys():
            print(f"{name}: not installed, skipped")
        seconds = time_round_robin(present, args.repeats)
    rows = [(name, seconds[name], candidates[name][1]) for name in present]

    base = rows[0][2] / rows[0][1]
    print(f"\nThe tutorial's VAE, {n:,} MNIST images a pass, batch {BATCH}, "
          f"{args.threads} thread(s), median of {args.repeats}:\n")
    print(f"| {'':30} | {'images/s':>9} | {'ms per 128':>10} | {'vs vaelab':>9} |")
    print(f"|{'-' * 32}|{'-' * 10}:|{'-' * 11}:|{'-' * 10}:|")
    for name, secs, count in rows:
        rate = count / secs
        print(f"| {name:30} | {rate:9,.0f} | {1000 * BATCH / rate:10.2f} | {rate / base:9.2f} |")


if __name__ == "__main__":
    main()
