"""The latent explorer: one HTML page that decodes the latent plane under the pointer, walks the
line between two picked codes, and encodes a digit drawn with the mouse, for one run or several
side by side (one pointer driving them all).

The page carries everything it needs: each model's encoder and decoder as a list of operations
with their weights as float16 (explore_ops), the codes of a sample of the test set, the run's
config and metrics, and where a classifier is cached, the plane shaded by its confidence
(explore_shading). The nets run in the page, in plain JavaScript, so a hover costs no round
trip to a server and an exported page works from file://, offline. ``serve_explorer`` serves
that same page on 127.0.0.1; ``export_explorer`` writes it to a file.

    explorer/explorer.html, .css, .js, nets.js    the page's template, style and code
"""

from __future__ import annotations

import errno
import html
import json
import math
import operator
import sys
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from matplotlib.colors import to_hex

from vaelab.data import ImageData, dataset_images, dataset_title, prepare
from vaelab.distributions import SquaredError, likelihood_label
from vaelab.errors import VaelabError, named
from vaelab.files import check_can_make, quoted, write_atomic
from vaelab.measuring.latent import encode_dataset, principal_axes
from vaelab.measuring.scorecard import noted_rows
from vaelab.models import count_parameters, in_float32
from vaelab.pictures.explore_ops import b64, net_ops
from vaelab.pictures.explore_shading import confidence_shading
from vaelab.pictures.ink import ink_on_paper
from vaelab.pictures.names import MOST_NAMED, legend_names, scatter_marks
from vaelab.pictures.plots import UNLABELLED, class_color, class_shape
from vaelab.training.datasets import check_same, data_key, load_for
from vaelab.training.folders import check_not_anothers
from vaelab.training.runs import Run, check_each_once, opened

POINTS = 5000  # test codes drawn on the plane
DATA_FORMAT = 2
HOST = "127.0.0.1"
Runs = Run | str | Path | Sequence[Run | str | Path]


def _pca(codes: torch.Tensor) -> dict[str, Any]:
    """The codes' mean, their principal axes and each one's share of the variance, as the
    figures' plane has them (in double precision)."""
    origin, axes, share = principal_axes(codes.double())
    return {"origin": origin.tolist(), "axes": axes.tolist(), "explained": share.tolist()}


def _evaluation(run: Run) -> tuple[list[tuple[str, str]] | None, list[str]]:
    """The run's eval.json as (label, value) rows, each value with a note marked "[k]" ("n/a
    [k]" where it is missing) with k the note's number, and those notes; None and [] if not
    measured."""
    from vaelab.measuring.caveats import saved_scorecard

    card = saved_scorecard(run)
    if card is None:
        return None, []
    rows, notes = noted_rows([card], [(label, [value]) for label, value in card.rows()])
    shown = [(label, value) for label, [value] in rows]
    if card.epochs != run.epochs_done:  # measured before a --resume, say
        epochs = f"{card.epochs} epoch{'s' * (card.epochs != 1)}"
        shown.insert(0, ("measured after", f"{epochs}, not {run.epochs_done}: vaelab eval "
                                           f"{quoted(run.path)} measures the run again"))
    return shown, notes


def _run_facts(run: Run) -> dict[str, Any]:
    """What the page shows about the run: its settings, its last epoch, its eval.json."""
    config, last = run.config, run.metrics[-1] if run.metrics else None
    evaluation, notes = _evaluation(run)
    return {
        "name": run.path.name,
        "dataset": dataset_title(config.data.dataset),
        "images": dataset_images(config.data.dataset),  # 'MNIST images', 'images of faces'
        "config": config.to_dict(),
        "parameters": count_parameters(run.model),
        "likelihood": likelihood_label(config.model.likelihood),
        "without": (SquaredError.constant_said(tuple(run.model.image_shape))  # of recon
                    if run.model.likelihood.left_out() else None),
        "epochs": run.epochs_done,
        "seconds": sum(m["train_seconds"] for m in run.metrics) if run.metrics else None,
        "last": {split: last[split] for split in ("train", "test")} if last else None,
        "evaluation": evaluation,
        "notes": notes,
    }


def _paper(data: ImageData) -> str:
    """'light' for images that are mostly light (dark strokes on paper, a mean pixel above
    half), else 'dark' (light strokes on black, as MNIST's are stored)."""
    sample = data.train_images[:10_000]
    return "light" if sample.float().mean().item() > 127.5 else "dark"


def _check_finite(run: Run, codes: torch.Tensor) -> None:
    if not (all(p.isfinite().all() for p in run.model.parameters()) and codes.isfinite().all()):
        raise VaelabError(f"{run.path}: the run's weights are not finite numbers (it diverged "
                          f"in training); train it again, with a smaller --lr perhaps")


@torch.inference_mode()
def explorer_data(run: Run, data: ImageData, *, points: int = POINTS, seed: int = 0
                  ) -> dict[str, Any]:
    """One run's part of the page, as JSON-ready values: its nets as operations, the codes
    (posterior means for a VAE, given the label for a conditional model) of ``points`` test
    images drawn at random with ``seed``, their labels, the class names and colours, the
    codes' principal axes, the confidence shading, and the run's facts. Unlabelled images have
    no class names, labels of 0 and one colour. The model is left in the mode (train or eval)
    it was in."""
    model, training = in_float32(run.model), run.model.training
    seen = prepare(data, run.config.data.binarize, run.config.data.binarize_seed)
    shuffled = torch.randperm(len(seen.test_images), generator=torch.Generator().manual_seed(seed))
    pick = shuffled[:points]
    images = seen.test_images[pick.to(seen.test_images.device)]
    labels = seen.test_labels.cpu()[pick]  # (N,)
    try:
        codes = encode_dataset(model, images.to(model.device), labels.to(model.device)).cpu()
        _check_finite(run, codes)  # (N, d)
        pca = _pca(codes)
        nets = net_ops(model)
        shading = confidence_shading(model, data, codes, pca)
    finally:
        model.train(training)
    return {
        "model": {
            "title": run.config.title(),
            "posterior": "gaussian" if model.has_posterior else "point",
            "latent_dims": model.latent_dims,
            "image_shape": list(model.image_shape),
            "ink": ink_on_paper(run.config.data.dataset),  # grey drawn as ink on paper
            "paper": _paper(data),  # what the drawing pad starts from
            "classes": model.classes,  # the label's length, 0 for a model that takes none
            **nets,
        },
        "sample": f"{data.name}, {len(pick)} test images drawn with seed {seed}",
        "codes": b64(codes, "f4"),
        "labels": b64(labels, "u2"),  # a folder may have more than 256 classes
        "classes": list(data.classes),
        "legend": legend_names(data.classes),  # with what stands for each on the plane
        "marks": scatter_marks(data.classes) if len(data.classes) <= MOST_NAMED else [],
        "colors": [to_hex(class_color(i)) for i in range(len(data.classes))]
                  or [UNLABELLED],
        "shapes": [class_shape(i) for i in range(len(data.classes))] or [0],  # of the markers
        "pca": pca,
        "shading": shading,
        "run": _run_facts(run),
    }


def _finite(value: Any) -> Any:
    """``value`` with every float that is not a finite number (NaN, infinities) made None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _script_json(data: dict[str, Any]) -> str:
    """``data`` as strict JSON (non-finite numbers as null) that is safe inside a <script>
    element: no "<", ">" or "&" appears in it, so neither "</script" nor "<!--" can end or
    change the element; inside JSON strings, where alone they can be, \\u003c and friends
    read back as the same characters."""
    text = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def explorer_html(runs: list[dict[str, Any]]) -> str:
    """The page of one or more runs (``explorer_data`` each): template, style, code and data
    in one self-contained HTML document."""
    assets = files("vaelab.pictures") / "explorer"
    page = (assets / "explorer.html").read_text(encoding="utf-8")
    payload = _script_json({"format": DATA_FORMAT, "runs": runs})
    title = f"vaelab explorer: {', '.join(run['run']['name'] for run in runs)}"
    code = "\n".join((assets / name).read_text(encoding="utf-8")
                     for name in ("nets.js", "explorer.js"))
    for marker, text in (("{{title}}", html.escape(title)),
                         ("{{style}}", (assets / "explorer.css").read_text(encoding="utf-8")),
                         ("{{script}}", code),
                         ("{{data}}", payload)):
        page = page.replace(marker, text, 1)
    return page


def _as_list(runs: Runs) -> list[Run | str | Path]:
    return [runs] if isinstance(runs, Run | str | Path) else list(runs)


def build_explorer(runs: Runs, data: ImageData | None = None, *,
                   data_dir: str | Path | None = None, progress: bool = True) -> str:
    """The explorer page of a run or of several side by side, loading each one's test set
    unless ``data`` is given."""
    loaded = [opened(run, data_dir=data_dir) for run in _as_list(runs)]
    if not loaded:
        raise VaelabError("name at least one run folder to explore")
    check_each_once(loaded, "name each run once")
    shared: dict[tuple, ImageData] = {}  # each dataset loaded once for the runs that share it
    views = []
    for run in loaded:
        key = data_key(run.config)
        if key in shared:
            check_same(run.config, shared[key])
        else:
            shared[key] = load_for(run.config, data_dir, progress=progress, data=data)
        views.append(explorer_data(run, shared[key]))
    return explorer_html(views)


def check_export_path(path: str | Path) -> Path:
    """Refuse, before any work, a page path that cannot be written: a folder, a path under a
    file, one in a folder that is not writable, or a name that does not end in .html (which
    a browser would not open as a page). Missing folders are made when the page is written,
    as every command makes the folders of what it writes."""
    check_can_make(path, named("--out", "path"), example="explorer.html")
    if Path(path).suffix.lower() not in (".html", ".htm"):
        raise VaelabError(f"{path}: the explorer is written as one HTML page; name a file "
                          f"ending in .html")
    check_not_anothers(path, named("--out", "path"))  # a run's page, say
    return Path(path)


def export_explorer(runs: Runs, path: str | Path, data: ImageData | None = None, *,
                    data_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Write the explorer of a run (or of several side by side) as one self-contained HTML
    file, which opens from file:// with no server and asks nothing of the network."""
    path = check_export_path(path)
    write_atomic(path, build_explorer(runs, data, data_dir=data_dir, progress=progress))
    return path


class _PageHandler(BaseHTTPRequestHandler):
    server: ExplorerServer

    def do_GET(self) -> None:
        self._answer(with_page=True)

    def do_HEAD(self) -> None:  # what GET answers, without the page (curl -I, link checkers)
        self._answer(with_page=False)

    def _answer(self, with_page: bool) -> None:
        # A page of another site whose name was made to point at 127.0.0.1 (DNS rebinding)
        # sends its own name as Host: only our own names get the page.
        port = self.server.server_port
        hosts = {HOST, "localhost", f"{HOST}:{port}", f"localhost:{port}"}
        if (self.headers.get("Host") or "").lower() not in hosts:
            self.send_error(403, "only http://127.0.0.1 and http://localhost are served")
            return
        if self.path.split("?")[0] not in ("/", "/index.html"):
            self.send_error(404)
            return
        body = self.server.page.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_page:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no line per request on the terminal


class ExplorerServer(ThreadingHTTPServer):
    """Answers GET / (and HEAD /) with one page, on 127.0.0.1 only and to requests addressed
    to 127.0.0.1 or localhost; port 0 takes any free port. The port is taken at once, so that
    a busy one is reported before any work."""

    daemon_threads = True
    allow_reuse_address = sys.platform != "win32"  # there, a second server could share a port

    def __init__(self, port: int, page: str = "") -> None:
        if isinstance(port, bool) or not hasattr(type(port), "__index__"):  # NumPy's will do
            raise VaelabError(f"the port is a whole number from 1 to 65535, or 0 for any free "
                              f"port, not {port!r}")
        port = operator.index(port)
        if not 0 <= port <= 65535:
            raise VaelabError(f"port {port} is out of range; choose {named('--port', 'a port')} "
                              f"from 1 to 65535, or 0 for any free port")
        try:
            super().__init__((HOST, port), _PageHandler)
        except OSError as err:
            n, free = named("--port N", "port=N"), named("--port 0", "port=0")
            if err.errno == errno.EADDRINUSE:
                raise VaelabError(f"port {port} is in use; choose another with {n} ({free} "
                                  f"takes a free one)") from None
            if err.errno in (errno.EACCES, errno.EPERM) or getattr(err, "winerror", 0) == 10013:
                raise VaelabError(f"port {port} is not open to this user; choose a port above "
                                  f"1023 with {n}") from None
            raise
        self.page = page

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that hangs up before the page is sent (a closed tab, a reload) is no
        error of the server's: nothing to say. Anything else is, with its traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve_explorer(runs: Runs, port: int = 8765, data: ImageData | None = None, *,
                   data_dir: str | Path | None = None, progress: bool = True,
                   on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the explorer of a run (or of several side by side) on http://127.0.0.1:PORT/
    until interrupted (Ctrl-C). Prints nothing: ``on_ready`` is called with the page's
    address once it is served."""
    with ExplorerServer(port) as server:
        server.page = build_explorer(runs, data, data_dir=data_dir, progress=progress)
        if on_ready is not None:
            on_ready(server.url)
        server.serve_forever()
