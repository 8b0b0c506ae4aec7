"""vaelab demo: the tutorial's two models side by side, or others of the family, with every
figure, their measures and one page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from vaelab.cli.options import OPTIONAL, Common, flag, say, spelling
from vaelab.config import ArchName, BinarizeName, LikelihoodName, ModelName
from vaelab.errors import VaelabError
from vaelab.files import quoted


@dataclass(kw_only=True)
class Demo(Common):
    """Train the tutorial's AE and VAE side by side (or other models of the family, as the
    options below choose), draw every figure and a comparison, measure them, and write an
    index.html that shows them all."""

    epochs: int = 20
    """Epochs for each model."""
    batch_size: int = 128
    """Images a step (the tutorial's 128); a folder of a few hundred images wants fewer."""
    out: Annotated[Path | None, flag("-o", metavar="DIR", default="./vaelab-demo, numbered if "
                                                              "taken")] = None
    """Folder to create for the runs, the comparison and the page."""
    seed: int = 0
    """Seeds weights, shuffling and noise."""
    dataset: Annotated[str, flag(metavar="NAME|PATH")] = "mnist"
    """mnist, fashion-mnist, or your own images: a folder of PNG/JPEG files (one sub-folder
    per class, if labelled) or a .npz/.npy file."""
    image_size: Annotated[int | None, flag(metavar="N", default="as they are")] = None
    """Bring every image to N x N pixels: the shorter side scaled to N, the middle cut out."""
    models: Annotated[tuple[ModelName, ...], flag(metavar="MODEL [MODEL ...]")] = ("ae", "vae")
    """The models to train side by side, each once: ae, vae, cvae (the tutorial's: ae vae)."""
    arch: ArchName = "mlp"
    """Their encoders and decoders: 'mlp' (the tutorial's dense layers) or 'conv'."""
    resume: Annotated[Path | None, flag(metavar="DIR", hint=OPTIONAL)] = None
    """Finish a demo that was stopped, in its folder: its runs go on from their checkpoints,
    and the figures, measures and page follow."""
    likelihood: Annotated[LikelihoodName, flag("--loss", metavar="NAME")] = "sse"
    """Their p(x|z): sse (squared error, the tutorial's), bce (Bernoulli), gaussian (learned
    variance), logistic (discretised)."""
    binarize: BinarizeName = "none"
    """Train on black-or-white pixels, a grey level being the chance of white: 'dynamic' (drawn
    anew for each batch; with --loss bce, an exact likelihood) or 'static' (drawn once)."""
    train_subset: Annotated[int | None, flag(metavar="N", default="all of them")] = None
    """Train on N training images drawn at random, for a quick look; the test set stays
    whole."""

    def run(self) -> None:
        import time

        from vaelab.config import TrainConfig
        from vaelab.demo import run_demo

        TrainConfig(epochs=self.epochs, seed=self.seed, batch_size=self.batch_size)  # checked
        started = time.perf_counter()
        if self.resume is not None:
            from vaelab.demo import finish_demo

            given = [spelling(Demo, name) for name, value in vars(self).items()
                     if name not in ("resume", "device", "data_dir", "quiet")
                     and value != getattr(Demo, name, value)]
            if given:
                raise VaelabError(f"--resume finishes the demo as it was started; leave out "
                                  f"{', '.join(given)}")
            page = finish_demo(self.resume,
                               device=self.device, data_dir=self.data_dir,
                               progress=not self.quiet)
            say(f"done in {time.perf_counter() - started:.0f} s; open {quoted(page)}")
            return
        page = run_demo(self.out, epochs=self.epochs, seed=self.seed, dataset=self.dataset,
                        image_size=self.image_size, device=self.device or "auto",
                        data_dir=self.data_dir, progress=not self.quiet, models=self.models,
                        arch=self.arch, likelihood=self.likelihood, binarize=self.binarize,
                        batch_size=self.batch_size, train_subset=self.train_subset)
        say(f"done in {time.perf_counter() - started:.0f} s; open {quoted(page)}")
