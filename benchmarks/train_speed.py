"""Training speed of the tutorial's VAE, against other ways of running the same model.

Every row trains 784-512-2 (ReLU, sigmoid output; the encoder's mean and log-variance heads),
batch 128, Adam at 1e-3, summed squared error + KL, on the same MNIST images, in this one
process, one after another, so that the ratios hold on a noisy machine:

  vaelab                 vaelab.training.loop.train_epoch: data on the device as one uint8 tensor,
                         batches as index slices, the backward written out (on a CPU), fused
                         Adam
  vaelab, 2 runs side by side
                         two runs at once in two threads of this process, one thread each,
                         as vaelab.train_all runs them on a CPU; images per second counted
                         over both
  vaelab through autograd
                         the same, the backward through autograd (as vaelab takes it for the
                         models and settings that vaelab.training.lean does not cover);
                         alone, and two runs side by side ("autograd, 2 runs side by side")
  vaelab, torch.compile  vaelab's step compiled (vaelab train --compile), with --compile
  PyTorch examples loop  the loop of pytorch/examples vae/main.py with the tutorial's sizes:
                         DataLoader over a TensorDataset (per-sample indexing and collation),
                         loss.item() every step, default Adam
  pythae                 pythae's BaseTrainer.train_step with its default MLP VAE (the same
                         784-512-2 layers), if pythae is installed (pip install pythae)
  hand-written loop      the same step written out in a dozen lines of plain PyTorch:
                         autograd, fused Adam, nothing else
  no autograd            the step's forward and a hand-written backward as single ops into
                         the weights' gradients, fused Adam: all the work a step must do,
                         with the least Python between the operations
  no autograd, 2 halves  the same step on two threads of half the threads each: each thread
    at once              takes half of the batch's rows, then half of the weights' gradients
                         and Adam; they meet twice a step
  Adam alone             the fused Adam update of the 0.8 M parameters, once per step
  products and Adam      the floor's products and then that update, step after step: the
                         least that a step which trains with Adam must do
  matmul floor           the eleven matrix products of each step and nothing else: what the
                         hardware must do at least, with the products' inputs hot in cache

Then, for vaelab's epoch, how far it is from the products and Adam alone, and where the time
goes: the profiler's split into the matrix products, Adam, and everything else, beside the
floor. With --threads 1 2 (the default) every row is measured with one thread and with two,
but those that take two threads (2 runs side by side, 2 halves at once) with two alone.

--device cuda (or mps) measures vaelab's epoch and the matmul floor on that device, the images
resident there, each round ending when the device has finished; --precision bf16 or fp16 runs
vaelab's step under autocast and the floor's products in that dtype. The rows of other tools
are CPU rows and are left out elsewhere.

The process's heap is set as vaelab's commands set it (vaelab.memory.map_large_blocks).

Usage: python benchmarks/train_speed.py [--images 20000] [--repeats 5] [--threads 1 2]
                                        [--device cpu] [--precision fp32] [--compile]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import sys
import tempfile
import threading
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from timing import at_least, machine, run_main, time_round_robin
from vaelab.config import RunConfig, TrainConfig
from vaelab.data import load_dataset
from vaelab.device import select_device
from vaelab.memory import map_large_blocks
from vaelab.models import build_model
from vaelab.training.lean import adam_step
from vaelab.training.loop import train_epoch
from vaelab.training.step import Step

BATCH = 128
CPU = torch.device("cpu")
SHAPE = (1, 28, 28)


def vaelab_epoch(images: torch.Tensor, precision: str = "fp32", compile: bool = False,
                 autograd: bool = False) -> Callable[[], None]:
    config = RunConfig(train=TrainConfig(batch_size=BATCH, precision=precision))
    torch.manual_seed(0)
    model = build_model(config.model, SHAPE).to(images.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3,
                                 fused=images.device.type in ("cpu", "cuda"))
    generator = torch.Generator(images.device).manual_seed(0)
    step = Step(model, optimizer, config.train, compile=compile)
    step.by_hand = step.by_hand and not autograd
    return lambda: train_epoch(model, optimizer, images, config.train, generator, step=step)


def vaelab_side_by_side(images: torch.Tensor, autograd: bool = False) -> Callable[[], None]:
    """Two runs at once, one thread each, as vaelab.train_all does on a CPU."""
    epochs = [vaelab_epoch(images, autograd=autograd) for _ in range(2)]

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


def _tutorial_weights(seed: int = 0) -> list[torch.Tensor]:
    """W1, b1, W2, b2, W3, b3, W4, b4 of 784-512-(2+2) and 2-512-784, needing gradients."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for n_in, n_out in ((784, 512), (512, 4), (2, 512), (512, 784)):
        out += [(torch.randn(n_out, n_in, generator=g) / n_in**0.5).requires_grad_(),
                torch.zeros(n_out, requires_grad=True)]
    return out


def hand_written_epoch(images: torch.Tensor) -> Callable[[], None]:
    """The step in plain PyTorch: autograd, fused Adam, the summed loss, nothing more."""
    params = _tutorial_weights()
    w1, b1, w2, b2, w3, b3, w4, b4 = params
    optimizer = torch.optim.Adam(params, lr=1e-3, fused=True)
    g = torch.Generator().manual_seed(0)

    def run() -> None:
        order = torch.randperm(len(images), generator=g)
        for start in range(0, len(images), BATCH):
            x = images[order[start:start + BATCH]].flatten(1).float().div_(255)
            mean, logvar = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2).chunk(2, dim=1)
            std = (0.5 * logvar).exp()
            z = mean + std * torch.randn(mean.shape, generator=g)
            x_hat = torch.sigmoid(F.linear(F.relu(F.linear(z, w3, b3)), w4, b4))
            kl = 0.5 * (std.square() + mean.square() - 1 - logvar).sum()
            loss = F.mse_loss(x_hat, x, reduction="sum") + kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return run


class WrittenOut:
    """The step with its backward written out: the forward and backward of a batch's rows
    (``rows``), then the weights' gradients and fused Adam in two parts (``weights``): the
    last layer's, and the rest. Each piece is one operation into buffers kept for the batch,
    so that two threads can each take half of the rows and then one part."""

    def __init__(self, images: torch.Tensor) -> None:
        params = _tutorial_weights()
        for p in params:
            p.grad = torch.zeros_like(p)
        self.images, self.grads = images, [p.grad for p in params]
        self.w = [p.detach() for p in params]
        self.adam = [torch.optim.Adam(params[6:], lr=1e-3, fused=True),
                     torch.optim.Adam(params[:6], lr=1e-3, fused=True)]
        self.generator = torch.Generator().manual_seed(0)
        self.x, self.d4 = torch.empty(BATCH, 784), torch.empty(BATCH, 784)
        self.h1, self.h3, self.d3, self.d1 = (torch.empty(BATCH, 512) for _ in range(4))
        self.z, self.d2 = torch.empty(BATCH, 2), torch.empty(BATCH, 4)

    def batches(self) -> tuple[torch.Tensor, torch.Tensor]:
        """An epoch's order and its noise, drawn before its first step."""
        steps = len(self.images) // BATCH  # whole batches, the buffers' size
        order = torch.randperm(len(self.images), generator=self.generator)
        return order[:steps * BATCH].view(steps, BATCH), torch.randn(
            steps, BATCH, 2, generator=self.generator)

    def rows(self, rows: slice, batch: torch.Tensor, eps: torch.Tensor) -> None:
        w1, b1, w2, b2, w3, b3, w4, b4 = self.w
        eps = eps[rows]
        x = torch.div(self.images[batch[rows]].flatten(1), 255, out=self.x[rows])
        h1 = torch.addmm(b1, x, w1.t(), out=self.h1[rows]).relu_()
        out = torch.addmm(b2, h1, w2.t())
        mean, logvar = out[:, :2], out[:, 2:]
        std = (0.5 * logvar).exp()
        z = torch.addcmul(mean, std, eps, out=self.z[rows])
        h3 = torch.addmm(b3, z, w3.t(), out=self.h3[rows]).relu_()
        x_hat = torch.addmm(b4, h3, w4.t()).sigmoid_()
        d4 = torch.sub(x_hat, x, out=self.d4[rows])  # d loss / d logits, below
        d4.mul_(x_hat).mul_(x_hat.sub_(1)).mul_(-2)
        d3 = torch.mm(d4, w4, out=self.d3[rows]).mul_(h3 > 0)
        dz = d3 @ w3
        d2 = self.d2[rows]
        torch.add(dz, mean, out=d2[:, :2])
        torch.mul(dz.mul_(eps).add_(std), std, out=d2[:, 2:]).sub_(1).mul_(0.5)
        torch.mm(d2, w2, out=self.d1[rows]).mul_(h1 > 0)

    def weights(self, part: int) -> None:
        g = self.grads
        if part == 0:
            torch.sum(self.d4, 0, out=g[7]), torch.mm(self.d4.t(), self.h3, out=g[6])
        else:
            torch.sum(self.d3, 0, out=g[5]), torch.mm(self.d3.t(), self.z, out=g[4])
            torch.sum(self.d2, 0, out=g[3]), torch.mm(self.d2.t(), self.h1, out=g[2])
            torch.sum(self.d1, 0, out=g[1]), torch.mm(self.d1.t(), self.x, out=g[0])
        self.adam[part].step()


def no_autograd_epoch(images: torch.Tensor) -> Callable[[], None]:
    """All the work a step must do, each piece one operation: the forward, the backward written
    out (into the weights' gradients in place), fused Adam."""
    step = WrittenOut(images)
    everything = slice(None)

    @torch.no_grad()
    def run() -> None:
        for batch, eps in zip(*step.batches(), strict=True):
            step.rows(everything, batch, eps)
            step.weights(0)
            step.weights(1)

    return run


def halves_epoch(images: torch.Tensor) -> Callable[[], None]:
    """The written-out step on two threads, each with half the threads PyTorch has: each
    takes half of the batch's rows, then one of the two parts of the weights, meeting twice
    a step. The threads' matrix products are each as large as one thread keeps busy."""
    step = WrittenOut(images)
    meet = [queue.SimpleQueue(), queue.SimpleQueue()]  # a two-party barrier: k waits on meet[k]
    work: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def half(k: int) -> None:
        rows = slice(k * BATCH // 2, (k + 1) * BATCH // 2)
        for batch, eps in zip(*work["epoch"], strict=True):
            step.rows(rows, batch, eps)
            meet[1 - k].put(None), meet[k].get()
            step.weights(k)
            meet[1 - k].put(None), meet[k].get()

    @torch.no_grad()
    def other(threads: int) -> None:
        torch.set_num_threads(threads)  # this thread's own, as OpenMP keeps them
        while True:
            meet[1].get()
            half(1)

    threads = max(1, torch.get_num_threads() // 2)
    threading.Thread(target=other, args=(threads,), daemon=True).start()

    @torch.no_grad()
    def run() -> None:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        work["epoch"] = step.batches()
        meet[1].put(None)
        half(0)
        torch.set_num_threads(before)

    return run


def adam_alone(n_images: int) -> Callable[[], None]:
    params = _tutorial_weights()
    for p in params:
        p.grad = torch.rand_like(p)
    optimizer = torch.optim.Adam(params, lr=1e-3, fused=True)
    steps = -(-n_images // BATCH)

    def run() -> None:
        for _ in range(steps):
            optimizer.step()

    return run


def matmul_floor(n_images: int, device: torch.device = CPU,
                 dtype: torch.dtype = torch.float32) -> Callable[[], None]:
    """Each step's matrix products at the step's shapes and nothing else: forward through the
    four layers (4 products), then each layer's weight gradient and every input gradient but
    the first layer's, which the images do not need (7): five large products, six small."""
    products = _step_products(device, dtype)
    steps = -(-n_images // BATCH)

    def run() -> None:
        for _ in range(steps):
            products()

    return run


def products_and_adam(n_images: int) -> Callable[[], None]:
    """The floor's products, the weight gradients written into the parameters' ``.grad``, and
    then fused Adam's update of all 0.8 M parameters, step after step: the least that a step
    which trains with Adam does, the element-wise work left out. Adam's pass over its 13 MB of
    state pushes the weights and the products' inputs out of the caches that the floor's
    products keep them in."""
    params = _tutorial_weights()
    for p in params:
        p.grad = torch.rand_like(p)  # the biases' stay: their sums are not products
    optimizer = torch.optim.Adam(params, lr=1e-3, fused=True)
    optimizer.step()  # its state exists, as in training after the first step
    products = _step_products(CPU, torch.float32, [p.detach() for p in params[::2]],
                              [p.grad for p in params[::2]])
    steps = -(-n_images // BATCH)

    @torch.no_grad()
    def run() -> None:
        for _ in range(steps):
            products()
            adam_step(optimizer)

    return run


def _step_products(device: torch.device, dtype: torch.dtype,
                   weights: list[torch.Tensor] | None = None,
                   grads: list[torch.Tensor] | None = None) -> Callable[[], None]:
    """A step's eleven products on inputs of its shapes, made once; into ``grads`` (the four
    weights' gradients) where given, with ``weights`` (W1 to W4) as the layers'."""
    g = torch.Generator().manual_seed(0)

    def r(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g).to(device, dtype)

    w1, w2, w3, w4 = weights or (r(512, 784), r(4, 512), r(512, 2), r(784, 512))
    b1, b2, b3, b4 = r(512), r(4), r(512), r(784)
    x, h1, z, h3 = r(BATCH, 784), r(BATCH, 512), r(BATCH, 2), r(BATCH, 512)
    g4, g3, g2, g1 = r(BATCH, 784), r(BATCH, 512), r(BATCH, 4), r(BATCH, 512)
    d1, d2, d3, d4 = grads or (None,) * 4

    def products() -> None:
        torch.addmm(b1, x, w1.t())  # forward, (B, 784) -> (B, 512)
        torch.addmm(b2, h1, w2.t())  # (B, 512) -> (B, 4): mean and log-variance
        torch.addmm(b3, z, w3.t())  # (B, 2) -> (B, 512)
        torch.addmm(b4, h3, w4.t())  # (B, 512) -> (B, 784)
        torch.mm(g4.t(), h3, out=d4), g4 @ w4  # the last layer: weight and input gradients
        torch.mm(g3.t(), z, out=d3), g3 @ w3
        torch.mm(g2.t(), h1, out=d2), g2 @ w2
        torch.mm(g1.t(), x, out=d1)  # the first layer's weight; the images need no gradient

    return products


@contextlib.contextmanager
def quiet_stderr():
    """Sends file descriptor 2 to /dev/null for a while (C++ code ignores sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def parts(images: torch.Tensor, seconds: float) -> dict[str, float]:
    """Seconds of one vaelab epoch that takes ``seconds`` unprofiled in its matrix products,
    in Adam, and in everything else, in the shares the profiler gives them. (The profiled
    epoch itself is slower: the profiler's work per operation counts most where the
    operations are short, so its split only approximates the unprofiled one.)"""
    from torch.profiler import ProfilerActivity, profile

    epoch = vaelab_epoch(images)
    epoch()
    # The profiler's C++ side prints its start and stop on stderr.
    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU]) as prof:
        epoch()
    own = {e.key: e.self_cpu_time_total / 1e6 for e in prof.key_averages()}
    products = own.get("aten::mm", 0) + own.get("aten::addmm", 0)
    adam = own.get("aten::_fused_adam_", 0) + own.get("Optimizer.step#Adam.step", 0)
    scale = seconds / sum(own.values())
    return {"matrix products": products * scale, "Adam": adam * scale,
            "everything else": (sum(own.values()) - products - adam) * scale}


def device_rows(images: torch.Tensor, repeats: int, precision: str
                ) -> list[tuple[str, float, int]]:
    """vaelab's epoch and the floor on a GPU (or MPS), each round waiting for the device."""
    device, n = images.device, len(images)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    sync = {"cuda": torch.cuda.synchronize, "mps": torch.mps.synchronize}.get(
        device.type, lambda: None)
    runs = {"vaelab": vaelab_epoch(images, precision), "matmul floor":
            matmul_floor(n, device, dtype)}
    seconds = time_round_robin({name: _then(run, sync) for name, run in runs.items()}, repeats)
    return [(name, seconds[name], n) for name in runs]


def _then(run: Callable[[], None], sync: Callable[[], None]) -> Callable[[], None]:
    def both() -> None:
        run()
        sync()

    return both


def rows_for(images: torch.Tensor, threads: int, repeats: int, tmp: str,
             precision: str = "fp32", compile: bool = False) -> list[tuple[str, float, int]]:
    torch.set_num_threads(threads)
    if images.device.type != "cpu":
        return device_rows(images, repeats, precision)
    n = len(images)
    whole = n // BATCH * BATCH  # the written-out steps leave out a last, partial batch
    candidates = {
        "vaelab": (vaelab_epoch(images, precision), n),
        "vaelab, 2 runs side by side": (vaelab_side_by_side(images) if threads > 1 else None,
                                        2 * n),
        "vaelab through autograd": (vaelab_epoch(images, precision, autograd=True), n),
        "autograd, 2 runs side by side": (vaelab_side_by_side(images, autograd=True)
                                          if threads > 1 else None, 2 * n),
        "vaelab, torch.compile": (vaelab_epoch(images, compile=True) if compile else None, n),
        "PyTorch examples loop": (examples_epoch(images), n),
        "pythae": (pythae_epoch(images, tmp), n),
        "hand-written loop": (hand_written_epoch(images), n),
        "no autograd": (no_autograd_epoch(images), whole),
        "no autograd, 2 halves at once": (halves_epoch(images) if threads > 1 else None, whole),
        "Adam alone": (adam_alone(n), n),
        "products and Adam": (products_and_adam(n), n),
        "matmul floor": (matmul_floor(n), n),
    }
    present = {name: run for name, (run, _) in candidates.items() if run is not None}
    seconds = time_round_robin(present, repeats)
    return [(name, seconds[name], candidates[name][1]) for name in present]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=at_least(128), default=20_000,
                        help="training images of each round (128 or more: one batch)")
    parser.add_argument("--repeats", type=at_least(1), default=5)
    parser.add_argument("--threads", type=at_least(1), nargs="+", default=[1, 2])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                        help="vaelab's rows and the floor's products (on a GPU) in this dtype; "
                             "on a CPU the floor and the other rows stay in fp32")
    parser.add_argument("--compile", action="store_true",
                        help="add a row for vaelab's step under torch.compile (CPU; its "
                             "compiling falls in the warm-up round)")
    args = parser.parse_args()
    map_large_blocks()  # the heap as vaelab's commands set it (vaelab.memory), for every row
    device = select_device(args.device)
    images = load_dataset("mnist", args.data_dir, progress=False).train_images[:args.images]
    images = images.to(device)
    n = len(images)
    print(f"{machine(device)}\nThe tutorial's VAE, {n:,} MNIST images a pass, batch {BATCH}, "
          f"median of {args.repeats} rounds, on {device} in {args.precision}; pythae "
          f"{'installed' if _has_pythae() else 'not installed'}")
    for threads in args.threads if device.type == "cpu" else args.threads[:1]:
        with tempfile.TemporaryDirectory() as tmp:
            rows = rows_for(images, threads, args.repeats, tmp, args.precision, args.compile)
        floor = next(secs / count for name, secs, count in rows if name == "matmul floor")
        base = rows[0][2] / rows[0][1]
        print(f"\n{threads} thread{'s' if threads > 1 else ''}:\n")
        print(f"| {'':30} | {'images/s':>9} | {'ms per 128':>10} | {'vs vaelab':>9} | "
              f"{'vs floor':>8} |")
        print(f"|{'-' * 32}|{'-' * 10}:|{'-' * 11}:|{'-' * 10}:|{'-' * 9}:|")
        for name, secs, count in rows:
            rate = count / secs
            print(f"| {name:30} | {rate:9,.0f} | {1000 * BATCH / rate:10.2f} | "
                  f"{rate / base:9.2f} | {secs / count / floor:8.2f} |")
        if device.type != "cpu":
            continue
        least = next(secs / count for name, secs, count in rows if name == "products and Adam")
        print(f"\nvaelab's step takes {rows[0][1] / rows[0][2] / least:.2f} times as long as the "
              f"products and Adam alone ({least / floor:.2f} times the floor): the least that a "
              f"step which trains with Adam does")
        split = parts(images, next(secs for name, secs, _ in rows if name == "vaelab"))
        print(f"\nvaelab's epoch, {threads} thread{'s' if threads > 1 else ''}: " + ", ".join(
            f"{name} {secs / (n * floor):.2f}" for name, secs in split.items())
            + " (each as a multiple of the matmul floor's time)")


def _has_pythae() -> bool:
    try:
        import pythae  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    run_main(main)
