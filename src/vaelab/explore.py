"""The latent explorer: one HTML page that decodes the latent plane under the pointer, walks the
line between two picked codes, and encodes a digit drawn with the mouse.

The page carries everything it needs: the model's weights as float32 (base64), the codes of a
sample of the test set, the run's config and metrics. Encoder and decoder run in the page, in
plain JavaScript, so a hover costs no round trip to a server and an exported page works from
file://, offline. ``serve_explorer`` serves that same page on 127.0.0.1; ``export_explorer``
writes it to a file.

    explorer/explorer.html, .css, .js    the page's template, style and code (package data)
"""

from __future__ import annotations

import base64
import errno
import html
import json
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.colors import to_hex
from torch import nn

from vaelab.data import ImageData, get_dataset, load_dataset, prepare
from vaelab.errors import VaelabError
from vaelab.files import write_atomic
from vaelab.latent import encode_dataset
from vaelab.models import VAE, count_parameters
from vaelab.plots import CLASS_COLORS
from vaelab.runs import Run, load_run

POINTS = 5000  # test codes drawn on the plane
DATA_FORMAT = 1
HOST = "127.0.0.1"


def _b64(array: torch.Tensor | np.ndarray, dtype: str) -> str:
    """An array's values, row-major and little-endian, as base64 text."""
    raw = np.ascontiguousarray(np.asarray(array), dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(raw.tobytes()).decode("ascii")


def _layers(mlp: nn.Sequential) -> list[dict[str, Any]]:
    """The Linear layers of an MLP in order, weights (out, in) and biases as float32."""
    return [
        {"in": layer.in_features, "out": layer.out_features,
         "weight": _b64(layer.weight.detach().cpu(), "f4"),
         "bias": _b64(layer.bias.detach().cpu(), "f4")}
        for layer in mlp if isinstance(layer, nn.Linear)
    ]


def _pca(codes: torch.Tensor) -> dict[str, Any]:
    """The codes' mean and their principal axes, each row a unit vector, the first the one of
    most variance, signed so that its largest component is positive. (N, d) -> (d,), (d, d)"""
    codes = codes.double()
    origin = codes.mean(dim=0)
    _, s, vh = torch.linalg.svd(codes - origin, full_matrices=False)  # vh: (min(N, d), d)
    rows = torch.arange(len(vh))
    vh = vh * vh[rows, vh.abs().argmax(dim=1)].sign().unsqueeze(1)
    share = s.square() / s.square().sum().clamp_min(1e-12)
    return {"origin": origin.tolist(), "axes": vh.tolist(), "explained": share.tolist()}


def _run_facts(run: Run) -> dict[str, Any]:
    """What the page shows about the run: its settings, its last epoch, its eval.json."""
    from vaelab.scorecard import load_scorecard

    config, last = run.config, run.metrics[-1] if run.metrics else None
    card = load_scorecard(run.path)
    return {
        "name": run.path.name,
        "dataset": get_dataset(config.data.dataset).title or config.data.dataset,
        "config": config.to_dict(),
        "parameters": count_parameters(run.model),
        "epochs": run.epochs_done,
        "seconds": sum(m["train_seconds"] for m in run.metrics),
        "last": {split: last[split] for split in ("train", "test")} if last else None,
        "evaluation": card.rows() if card else None,
    }


@torch.inference_mode()
def explorer_data(run: Run, data: ImageData, *, points: int = POINTS, seed: int = 0
                  ) -> dict[str, Any]:
    """Everything the page needs, as JSON-ready values: the weights, the codes (posterior
    means for a VAE) of ``points`` test images drawn at random with ``seed``, their labels,
    the class names and colours, the codes' principal axes, and the run's facts."""
    model = run.model.eval()
    seen = prepare(data, run.config.data.binarize, run.config.data.binarize_seed)
    shuffled = torch.randperm(len(seen.test_images), generator=torch.Generator().manual_seed(seed))
    pick = shuffled[:points]
    images = seen.test_images[pick.to(seen.test_images.device)]
    codes = encode_dataset(model, images.to(model.device)).cpu()  # (N, d)
    return {
        "format": DATA_FORMAT,
        "model": {
            "kind": run.config.model.model,
            "posterior": "gaussian" if isinstance(model, VAE) else "point",
            "latent_dims": model.latent_dims,
            "image_shape": list(model.image_shape),
            "activation": run.config.model.activation,
            "encoder": _layers(model.encoder),
            "decoder": _layers(model.decoder),
        },
        "codes": _b64(codes, "f4"),
        "labels": _b64(seen.test_labels.cpu()[pick], "u1"),  # (N,)
        "classes": list(data.classes),
        "colors": [to_hex(CLASS_COLORS[i % len(CLASS_COLORS)]) for i in range(len(data.classes))],
        "pca": _pca(codes),
        "run": _run_facts(run),
    }


def explorer_html(data: dict[str, Any]) -> str:
    """The page: template, style, code and data in one self-contained HTML document."""
    assets = files("vaelab") / "explorer"
    page = (assets / "explorer.html").read_text(encoding="utf-8")
    # "</" cannot end the data's <script> element early once it is written "<\/".
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    title = f"vaelab explorer: {data['run']['name']}"
    for marker, text in (("{{title}}", html.escape(title)),
                         ("{{style}}", (assets / "explorer.css").read_text(encoding="utf-8")),
                         ("{{script}}", (assets / "explorer.js").read_text(encoding="utf-8")),
                         ("{{data}}", payload)):
        page = page.replace(marker, text, 1)
    return page


def build_explorer(run: Run | str | Path, data: ImageData | None = None, *,
                   data_dir: str | Path | None = None, progress: bool = True) -> str:
    """The explorer page of a run (loading its test set unless ``data`` is given)."""
    if not isinstance(run, Run):
        run = load_run(run)
    if data is None:
        data = load_dataset(run.config.data.dataset, data_dir, progress=progress)
    return explorer_html(explorer_data(run, data))


def export_explorer(run: Run | str | Path, path: str | Path, data: ImageData | None = None, *,
                    data_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Write the explorer as one self-contained HTML file, which opens from file:// with no
    server and asks nothing of the network."""
    path = Path(path)
    write_atomic(path, build_explorer(run, data, data_dir=data_dir, progress=progress))
    return path


class _PageHandler(BaseHTTPRequestHandler):
    server: ExplorerServer

    def do_GET(self) -> None:
        if self.path.split("?")[0] not in ("/", "/index.html"):
            self.send_error(404)
            return
        body = self.server.page.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no line per request on the terminal


class ExplorerServer(ThreadingHTTPServer):
    """Answers GET / with one page, on 127.0.0.1 only; port 0 takes any free port. The port
    is taken at once, so that a busy one is reported before any work."""

    daemon_threads = True

    def __init__(self, port: int, page: str = "") -> None:
        if not 0 <= port <= 65535:
            raise VaelabError(f"port {port} is out of range; choose --port from 1 to 65535")
        try:
            super().__init__((HOST, port), _PageHandler)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise VaelabError(f"port {port} is in use; choose another with --port N") from None
            raise
        self.page = page

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_port}/"


def serve_explorer(run: Run | str | Path, port: int = 8765, open_browser: bool = False,
                   data: ImageData | None = None, *, data_dir: str | Path | None = None,
                   progress: bool = True) -> None:
    """Serve the explorer of a run on http://127.0.0.1:PORT/ until interrupted (Ctrl-C);
    ``open_browser`` opens it in the default browser, if this machine has one."""
    with ExplorerServer(port) as server:
        server.page = build_explorer(run, data, data_dir=data_dir, progress=progress)
        print(f"vaelab: the explorer is at {server.url} (Ctrl-C stops it)", flush=True)
        if open_browser and not webbrowser.open(server.url):
            print("vaelab: no browser found here; open the address in one", flush=True)
        server.serve_forever()
