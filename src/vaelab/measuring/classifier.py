"""A small CNN that vaelab trains itself and keeps in the user cache, to judge images that a
model generates: how confidently each is a digit, whether all ten are drawn, and how far the
classifier's features of generated images lie from those of real ones (a Fréchet distance,
as FID measures it with an Inception network for photographs; here for MNIST-like data).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import nn

from vaelab.config.checks import check_count
from vaelab.data import DATASETS, ImageData, how_to_label, sources, to_unit
from vaelab.errors import VaelabError
from vaelab.files import write_atomic
from vaelab.memory import rows_per_block
from vaelab.progress import progress_bar

log = logging.getLogger("vaelab")

FORMAT = "1"
# The classifiers that ship with vaelab (measuring/classifiers/), made by
# ``vaelab classifier train --dataset NAME`` (seed 0, 5 epochs) and copied from the user cache.
SHIPPED = {
    "mnist": "5f31545c6756034bd2149db8aa11bb2c2fee8fd4c4eae126c24044566a935c66",  # 99.22%
    "fashion-mnist": "4ceb8f13ed300a5140b880cd66a9ec95b34ab8c03445a0d7810b63b98cbac105",  # 90.81%
}
EPOCHS = 5
LEAST_STEPS = 2_000  # a small dataset gets more epochs: five of MNIST's are 2,345 steps
# ... but at most 50 of them: on 600 MNIST images, 40, 100 and 400 epochs (200 to 2,000 steps)
# scored 90.3%, 89.7% and 89.1% on the test set, and on 3,000 images 20 and 84 epochs 95.8%
# and 96.1%; 400 epochs of a few hundred images were a minute and a half of a first eval.
MOST_EPOCHS = 50
CONFIDENT = 0.9  # a decoded image "is a digit" when the classifier gives one class this much
SURE_OF_ONE = 0.75  # the mean confidence in the class most images are judged that is said
AND = "; and "  # between two notes on one figure


class Classifier(nn.Module):
    """Two 5x5 convolutions of stride 2, a hidden layer of 128 features, one output per class.

    About 0.45 M parameters and 3 M multiply-adds per image: five epochs take 110 s on two
    CPU cores (`vaelab classifier train --force`, measured as a whole process) and reach
    99.22% on MNIST's test set.
    """

    FEATURES = 128

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), classes: int = 10
                 ) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.image_shape = tuple(image_shape)
        small = ((height + 3) // 4) * ((width + 3) // 4)  # the map after two strides of 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 5, stride=2, padding=2), nn.ReLU(),  # -> 32 x H/2 x W/2
            nn.Conv2d(32, 64, 5, stride=2, padding=2), nn.ReLU(),  # -> 64 x H/4 x W/4
            nn.Flatten(),
            nn.Linear(64 * small, self.FEATURES), nn.ReLU(),
        )
        self.head = nn.Linear(self.FEATURES, classes)

    @property
    def widest(self) -> tuple[int, int, int]:
        """The shape of an image's largest activation, the first convolution's output (its
        stride of 2 and padding of 2 halve each side, rounding up)."""
        _, height, width = self.image_shape
        return self.body[0].out_channels, (height + 1) // 2, (width + 1) // 2

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer: images (B, C, H, W) in [0, 1] -> (B, 128)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, classes)."""
        return self.head(self.features(x))


@dataclass
class Judge:
    """A trained classifier, with what is known of it."""

    model: Classifier
    dataset: str
    accuracy: float  # on the dataset's test set
    path: Path


def judge_key(data: ImageData) -> str:
    """What the classifier of ``data`` is kept under: a registered dataset's name, for its
    images at their own size; else their name (a folder's or file's, or a registered one
    resized) and the fingerprint of their pixels, so that other images, or the same at
    another size, get a classifier of their own."""
    spec = DATASETS.get(data.name)
    if spec is not None and data.image_shape == spec.image_shape:
        return data.name
    return f"{Path(data.name).stem}-{data.fingerprint()[:16]}"


def classifier_path(key: str) -> Path:
    return sources.cache_root() / "classifiers" / f"{key}.safetensors"


def shipped_path(dataset: str) -> Path | None:
    """The weights that come with vaelab for ``dataset``, if they do."""
    if dataset not in SHIPPED:
        return None
    return Path(str(files("vaelab.measuring") / "classifiers" / f"{dataset}.safetensors"))


def load_judge(dataset: str, device: torch.device | str = "cpu") -> Judge | None:
    """The classifier for ``dataset``: the one trained here (the user cache) if there is one,
    else the one that ships with vaelab (checked against its SHA-256), else None."""
    path = classifier_path(dataset)
    if not path.exists():
        path = shipped_path(dataset)
        if path is None or not path.exists():
            return None
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != SHIPPED[dataset]:
            log.warning("%s: not the file vaelab shipped (SHA-256 %s); train a classifier "
                        "with: vaelab classifier train --dataset %s", path, digest[:12],
                        dataset)
            return None
    try:
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
        weights = load_file(path)
        if meta.get("format") != FORMAT:
            raise ValueError("another format")
        with torch.random.fork_rng(devices=[]):  # weights about to be replaced
            model = Classifier(tuple(int(n) for n in meta["image_shape"].split(",")),
                               int(meta["classes"]))
        model.load_state_dict(weights)
        accuracy = float(meta["accuracy"])
    except (SafetensorError, OSError, ValueError, KeyError, RuntimeError) as err:
        images = (f"--dataset {dataset}" if dataset in DATASETS  # else a name and fingerprint
                  else "--dataset PATH (the images it judges)")
        log.warning("%s: unreadable (%s); train it again with: vaelab classifier train %s "
                    "--force", path, err, images)
        return None
    return Judge(model.to(device).eval(), dataset, accuracy, path)


def default_epochs(images: int, batch_size: int = 128) -> int:
    """The classifier's epochs on ``images`` training images: EPOCHS, or on a small dataset as
    many as make LEAST_STEPS steps, up to MOST_EPOCHS."""
    return max(EPOCHS, min(MOST_EPOCHS, math.ceil(LEAST_STEPS / math.ceil(images / batch_size))))


def train_judge(data: ImageData, *, epochs: int | None = None, seed: int = 0,
                batch_size: int = 128, progress: bool = True) -> Judge:
    """Train the classifier on ``data``'s training set, score it on its test set, and store it
    in the user cache (replacing an older one) under ``judge_key``. ``epochs`` defaults to
    five, or as many as make LEAST_STEPS steps on a small dataset, up to MOST_EPOCHS."""
    if not data.labelled:
        raise VaelabError(f"{data.name} has no labels, so there is no classifier to train "
                          f"({how_to_label(data.name)})")
    if not data.apart:  # it would score every image 100%
        raise VaelabError(f"{data.name} holds images of one class only ({data.classes[0]}), "
                          f"so a classifier has nothing to tell apart: it needs two or more")
    device = data.train_images.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier(data.image_shape, len(data.classes)).to(device)
    generator = torch.Generator(device).manual_seed(seed)
    images, labels = data.train_images, data.train_labels
    per_epoch = math.ceil(len(images) / batch_size)
    epochs = default_epochs(len(images), batch_size) if epochs is None else epochs
    check_count("epochs", epochs)
    steps = epochs * per_epoch
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    started = time.perf_counter()
    with progress_bar(steps, desc="classifier", unit="step",
                      enabled=progress, leave=False, dynamic_ncols=True) as bar:
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(images), generator=generator, device=device)
            for start in range(0, len(images), batch_size):
                batch = order[start:start + batch_size]
                loss = F.cross_entropy(model(to_unit(images[batch])), labels[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update()
    model.eval()
    accuracy = (predict(model, data.test_images).argmax(dim=1) == data.test_labels.cpu())
    accuracy = accuracy.cpu().double().mean().item()  # MPS has no float64
    key = judge_key(data)
    path = classifier_path(key)
    meta = {"format": FORMAT, "dataset": key, "accuracy": f"{accuracy:.6f}",
            "epochs": str(epochs), "seed": str(seed), "classes": str(len(data.classes)),
            "image_shape": ",".join(map(str, data.image_shape)),
            "seconds": f"{time.perf_counter() - started:.1f}"}
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_atomic(path, save(weights, metadata=meta))
    return Judge(model, key, accuracy, path)


@torch.inference_mode()
def predict(model: Classifier, images: torch.Tensor, batch_size: int | None = None
            ) -> torch.Tensor:
    """Class probabilities of images (N, C, H, W), uint8 or in [0, 1]. (N, classes) on CPU"""
    return _run(model, images, batch_size, lambda x: model(x).softmax(dim=1))


@torch.inference_mode()
def features(model: Classifier, images: torch.Tensor, batch_size: int | None = None
             ) -> torch.Tensor:
    """Penultimate-layer features of images (N, C, H, W), uint8 or in [0, 1]. (N, 128) on CPU"""
    return _run(model, images, batch_size, model.features)


@torch.inference_mode()
def predict_with_features(model: Classifier, images: torch.Tensor,
                          batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``predict`` and ``features`` of the same images from one pass through the net:
    (N, classes) probabilities and (N, 128) features, on CPU."""
    width = model.FEATURES

    def both(x: torch.Tensor) -> torch.Tensor:
        seen = model.features(x)
        return torch.cat([seen, model.head(seen).softmax(dim=1)], dim=1)

    joined = _run(model, images, batch_size, both)
    return joined[:, width:], joined[:, :width]


def _run(model: Classifier, images: torch.Tensor, batch_size: int | None, fn) -> torch.Tensor:
    """``fn`` of the images, ``batch_size`` at a time: by default, on a CPU, as many as keep
    the largest activation a heap block (vaelab.memory), 83 of MNIST's: on two cores twice as
    fast as 200 at a time, and the same numbers; elsewhere 200."""
    device = next(model.parameters()).device
    model.eval()
    if batch_size is None:
        batch_size = rows_per_block(model.widest, most=500) if device.type == "cpu" else 200
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        x = to_unit(x).float()  # the classifier computes in float32
        out.append(fn(x).cpu())
    return torch.cat(out)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, f) and (M, f):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (Heusel et al. 2017)."""
    (mean_a, cov_a), (mean_b, cov_b) = _moments(a), _moments(b)
    # tr (S_a S_b)^(1/2) = sum of the square roots of the eigenvalues of
    # S_a^(1/2) S_b S_a^(1/2), which is symmetric positive semi-definite.
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp_min(0).sqrt().sum()
    distance = (mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(distance.item(), 0.0)


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (f,) and unbiased covariance (f, f) of features (N, f), in float64, through one
    centred copy (10,000 x 128 features: 10 MB)."""
    x = x.to("cpu", torch.float64, copy=True)  # centred in place; MPS has no float64
    x -= (mean := x.mean(dim=0))
    return mean, x.T @ x / (len(x) - 1)


def class_entropy(probabilities: torch.Tensor) -> float:
    """Entropy in nats of the histogram of predicted classes: log(10) = 2.30 when all ten
    digits are drawn equally often, 0 when only one is."""
    counts = torch.bincount(probabilities.argmax(dim=1), minlength=probabilities.shape[1])
    share = counts.cpu().double() / counts.sum().cpu()
    return -(share[share > 0] * share[share > 0].log()).sum().item()


def confident_share(probabilities: torch.Tensor, threshold: float = CONFIDENT) -> float:
    """Share of images that the classifier puts in one class with at least ``threshold``."""
    return (probabilities.max(dim=1).values >= threshold).cpu().double().mean().item()


def one_class(probabilities: torch.Tensor, classes: tuple[str, ...], labels: torch.Tensor) -> str:
    """What to say of images (N, classes) the classifier puts mostly in one class (past half-
    way from its share of ``labels``, real or asked for, to all) at a mean confidence of
    SURE_OF_ONE or more: that it is sure of images unlike any it learnt from too; else ""."""
    best, picked = probabilities.max(dim=1)
    counts = torch.bincount(picked, minlength=len(classes)).cpu()
    top, share = int(counts.argmax()), counts.max().item() / max(1, len(probabilities))
    usual = (labels.cpu() == top).double().mean().item() if len(labels) else 1 / len(classes)
    if share < 0.5 + 0.5 * usual or best[picked == top].mean().item() < SURE_OF_ONE:
        return ""
    return (f"{share:.0%} of them judged {classes[top]}: the classifier is sure of images "
            f"unlike any it learnt from too (a blur, a blob), so its confidence says little "
            f"of them; look at them")


def sure_of(probabilities: torch.Tensor, classes: tuple[str, ...], labels: torch.Tensor,
            note: str = "") -> tuple[float, None, str]:
    """A grid's Score: the share the classifier is sure of, no error, and one_class's note."""
    said = one_class(probabilities, classes, labels)
    return confident_share(probabilities), None, AND.join(filter(None, (note, said)))


def judge_for(data: ImageData, *, progress: bool = True) -> Judge | None:
    """The classifier of ``data``'s images, trained here first if there is none yet (once: it
    is kept in the user cache); None for images without labels, or of a single class."""
    if not data.apart:
        return None
    device = data.train_images.device
    key = judge_key(data)
    judge = load_judge(key, device)
    if judge is not None and judge.model.image_shape != data.image_shape:
        log.warning("%s: made for images of another size; it is trained again", judge.path)
        judge = None
    if judge is None:
        log.info("training the classifier that judges samples of %s (once: it is kept in %s)",
                 key, classifier_path(key))
        judge = train_judge(data, progress=progress)
    return judge
