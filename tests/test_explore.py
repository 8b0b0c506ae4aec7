"""The latent explorer's data in Python: the nets as operations, the codes, the confidence
shading, the page file, the server and the command, over runs trained for one epoch on tiny
synthetic data. The page itself, in a real browser, is tested in test_explore_page.py."""

from __future__ import annotations

import base64
import errno
import json
import os
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex
from torch import nn

from vaelab.config import ModelConfig, RunConfig, TrainConfig
from vaelab.data import ImageData
from vaelab.errors import VaelabError
from vaelab.measuring.classifier import judge_key, predict, train_judge
from vaelab.measuring.latent import encode_dataset
from vaelab.models import build_model
from vaelab.pictures.explore import (
    ExplorerServer,
    build_explorer,
    check_export_path,
    explorer_data,
    export_explorer,
)
from vaelab.pictures.explore_ops import net_ops
from vaelab.pictures.plots import class_color, class_shape
from vaelab.training.loop import train
from vaelab.training.runs import Run, load_run

MODELS = {
    "ae": ModelConfig(model="ae", hidden_dims=(32,)),
    "vae": ModelConfig(model="vae", hidden_dims=(32,)),
    "vae5": ModelConfig(model="vae", latent_dims=5, hidden_dims=(32, 16), activation="tanh"),
    "vae1": ModelConfig(model="vae", latent_dims=1, hidden_dims=(16,)),
    "cvae": ModelConfig(model="cvae", hidden_dims=(32,)),
}


@pytest.fixture(scope="module")
def runs(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("explore-runs")
    return {name: train(RunConfig(model=model, train=TrainConfig(epochs=1, batch_size=64)),
                        out / name, data=tiny, progress=False)
            for name, model in MODELS.items()}


# ---------------------------------------------------------------------------------------------
# The page's data, without a browser.


def _floats(packed: dict[str, str]) -> torch.Tensor:
    dtype = {"f2": "<f2", "f4": "<f4"}[packed["dtype"]]
    raw = np.frombuffer(base64.b64decode(packed["data"]), dtype=dtype)
    return torch.from_numpy(raw.astype(np.float32))


def test_the_page_data_holds_the_nets_and_the_codes(runs, tiny):
    run = runs["vae5"]
    data = explorer_data(run, tiny, points=100)
    ops = data["model"]["decoder"]
    assert [op["op"] for op in ops] == ["linear", "tanh", "linear", "tanh", "linear", "reshape",
                                        "sigmoid"]
    assert [op["shape"] for op in ops][::2] == [[16], [32], [784], [1, 28, 28]]
    last = run.model.decoder.head[-1].weight.detach()
    assert ops[4]["weight"]["dtype"] == "f2"  # two bytes a weight
    assert len(base64.b64decode(ops[4]["weight"]["data"])) == 2 * last.numel()
    assert torch.equal(_floats(ops[4]["weight"]).reshape(784, 32), last.half().float())
    assert [op["op"] for op in data["model"]["encoder"]][:2] == ["reshape", "linear"]
    codes = torch.from_numpy(np.frombuffer(base64.b64decode(data["codes"]), "<f4").copy())
    codes = codes.reshape(-1, 5)
    labels = np.frombuffer(base64.b64decode(data["labels"]), dtype="<u2")  # 256 classes and more
    pick = torch.randperm(len(tiny.test_images), generator=torch.Generator().manual_seed(0))
    assert torch.equal(codes, encode_dataset(run.model, tiny.test_images[pick[:100]]))
    assert labels.tolist() == tiny.test_labels[pick[:100]].tolist()
    axes = torch.tensor(data["pca"]["axes"], dtype=torch.float64)
    torch.testing.assert_close(axes @ axes.T, torch.eye(5, dtype=torch.float64))
    assert data["classes"] == list(tiny.classes)
    assert data["colors"] == [to_hex(class_color(i)) for i in range(10)]  # the figures' own
    assert data["shapes"] == [0] * 10  # of the markers: another from the 21st class on
    assert [class_shape(i) for i in (0, 19, 20, 39, 40, 119, 120)] == [0, 0, 1, 1, 2, 5, 0]


def test_a_conditional_conv_model_becomes_operations_with_the_label_beside():
    config = ModelConfig(model="cvae", arch="conv", hidden_dims=(32,), channels=(4, 8))
    data = net_ops(build_model(config, (1, 28, 28), 10))
    encoder, decoder = ([(op["op"], op["shape"]) for op in data[net]] for net in
                        ("encoder", "decoder"))
    assert encoder == [("conv2d", [4, 14, 14]), ("relu", [4, 14, 14]), ("conv2d", [8, 7, 7]),
                       ("relu", [8, 7, 7]), ("reshape", [392]), ("side", [402]),
                       ("linear", [32]), ("relu", [32]), ("linear", [4])]
    assert decoder[0] == ("side", [12]) and decoder[-1] == ("sigmoid", [1, 28, 28])
    assert decoder[-2] == ("conv_transpose2d", [1, 28, 28])
    transposed = data["decoder"][-2]
    assert (transposed["kernel"], transposed["stride"], transposed["padding"],
            transposed["output_padding"]) == ([4, 4], [2, 2], [1, 1], [0, 0])


@pytest.mark.parametrize("likelihood", ["sse", "bce", "gaussian", "logistic"])
def test_the_decoder_ends_in_its_likelihoods_mean(likelihood):
    model = build_model(ModelConfig(likelihood=likelihood, hidden_dims=(8,)), (1, 4, 4))
    last = net_ops(model)["decoder"][-1]["op"]
    params = torch.linspace(-2, 3, 11)
    ends = {"sigmoid": torch.sigmoid(params), "clamp": params.clamp(0, 1)}
    assert torch.equal(model.likelihood.mean(params), ends[last])


def test_a_layer_the_page_cannot_run_is_one_line():
    model = build_model(ModelConfig(arch="conv", hidden_dims=(8,), channels=(4,)), (1, 8, 8))
    model.decoder.body.append(nn.BatchNorm2d(1))
    with pytest.raises(VaelabError, match=r"^the decoder of this conv VAE: the explorer cannot "
                                          r"run a BatchNorm2d layer in the page; it runs "
                                          r"Linear, Conv2d, .*$"):
        net_ops(model)


def test_a_forward_that_is_not_its_layers_in_turn_is_refused():
    model = build_model(ModelConfig(hidden_dims=(8,)), (1, 4, 4))
    decoder = model.decoder
    decoder.forward = lambda z, side=None: decoder.body(decoder.head(2 * z))
    with pytest.raises(VaelabError, match="its forward is not its layers run one after another"):
        net_ops(model)


def test_weights_beyond_half_precision_travel_as_float32():
    model = build_model(ModelConfig(hidden_dims=(8,)), (1, 4, 4))
    with torch.no_grad():
        model.decoder.head[0].weight[0, 0] = 1e5
    ops = net_ops(model)["decoder"]
    assert ops[0]["weight"]["dtype"] == "f4" and ops[2]["weight"]["dtype"] == "f2"
    assert _floats(ops[0]["weight"])[0] == 1e5
    for value, dtype in ((65504.0, "f2"), (-65504.0, "f2"), (65504.5, "f4")):  # float16's largest
        with torch.no_grad():
            model.decoder.head[0].weight[0, 0] = value
        weight = net_ops(model)["decoder"][0]["weight"]
        assert weight["dtype"] == dtype and _floats(weight)[0] == value


def test_the_page_is_one_file_that_asks_nothing_of_the_network(runs, tiny, tmp_path):
    path = export_explorer(runs["vae"], tmp_path / "explorer.html", data=tiny)
    page = path.read_text()
    assert page.startswith("<!doctype html>") and "{{" not in page
    for reference in ('src="', "href=\"http", "url(", "@import", "fetch(", "XMLHttpRequest"):
        assert reference not in page, reference


def test_a_busy_port_is_one_line_that_names_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(VaelabError, match=f"^port {port} is in use; choose another with "
                                              r"port=N \(port=0 takes a free one\)$"):
            ExplorerServer(port)  # from Python; the command's own below


def test_the_command_exports_and_names_a_busy_port(runs, tiny, tmp_path, capsys, monkeypatch):
    from vaelab.cli import main

    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *args, **kwargs: tiny)
    run = str(runs["ae"].path)
    page = tmp_path / "pages" / "new" / "page.html"  # folders that do not exist yet are made
    assert main(["explore", run, "--export", str(page), "--quiet"]) == 0
    assert f"wrote {page}" in capsys.readouterr().err
    assert page.read_text().startswith("<!doctype html>")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["explore", run, "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == (f"vaelab: error: port {port} is in use; choose another with --port N "
                   f"(--port 0 takes a free one)\n")


def test_the_command_puts_several_runs_on_one_page(runs, tiny, tmp_path, capsys, monkeypatch):
    from vaelab.cli import main

    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *args, **kwargs: tiny)
    folders = [str(runs[name].path) for name in ("ae", "vae", "cvae")]
    assert main(["explore", *folders, "--export", str(tmp_path / "page.html"), "--quiet"]) == 0
    page = (tmp_path / "page.html").read_text()
    data = json.loads(page.split('type="application/json">')[1].split("</script>")[0])
    assert [run["run"]["name"] for run in data["runs"]] == ["ae", "vae", "cvae"]
    assert [run["model"]["classes"] for run in data["runs"]] == [0, 0, 10]
    assert "<title>vaelab explorer: ae, vae, cvae</title>" in page
    capsys.readouterr()
    assert main(["explore", "--export", str(tmp_path / "none.html")]) == 2
    assert capsys.readouterr().err == ("vaelab: error: name a run folder to explore (or "
                                       "several)\n")


def _copy_run(run, folder: Path):
    shutil.copytree(run.path, folder)
    return load_run(folder)


def test_the_data_survives_any_run_name_and_non_finite_metrics(runs, tiny, tmp_path):
    run = _copy_run(runs["vae"], tmp_path / "odd<!--<script>&")
    (run.path / "metrics.jsonl").write_text(
        (run.path / "metrics.jsonl").read_text().replace('"loss": ', '"loss": NaN, "was": ', 1))
    page = build_explorer(load_run(run.path), tiny)
    payload = page.split('<script id="explorer-data" type="application/json">')[1]
    payload = payload.split("</script>")[0]
    assert not {"<", ">", "&"} & set(payload)
    data = json.loads(payload, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    facts = data["runs"][0]["run"]
    assert facts["name"] == "odd<!--<script>&"
    assert None in facts["last"]["train"].values()


def test_explorer_data_leaves_the_models_mode_as_it_was(runs, tiny):
    run = runs["ae"]
    run.model.train()
    try:
        explorer_data(run, tiny, points=50)
        assert run.model.training
    finally:
        run.model.eval()


def test_a_model_made_double_or_half_is_explored_and_measured_in_float32_as_it_trained(
        runs, tiny):
    from vaelab.measuring.evaluation import evaluate_run

    page = explorer_data(runs["vae"], tiny, points=50)
    card = evaluate_run(runs["vae"], tiny, k=2, judge=None, save=False, progress=False)
    for cast in (torch.nn.Module.double, torch.nn.Module.half):
        run = load_run(runs["vae"].path)  # the module's own run stays as it is
        cast(run.model)
        assert explorer_data(run, tiny, points=50)["model"] == page["model"]
        again = evaluate_run(run, tiny, k=2, judge=None, save=False, progress=False)
        assert again["recon"].value == pytest.approx(card["recon"].value, rel=1e-3)
        assert next(run.model.parameters()).dtype != torch.float32  # the user's, as it was


def test_weights_that_are_not_numbers_are_one_line_from_every_command(runs, tiny, tmp_path,
                                                                      capsys, monkeypatch):
    from safetensors.torch import load_file, save_file

    from vaelab.cli import main

    folder = shutil.copytree(runs["vae"].path, tmp_path / "diverged")
    weights = load_file(folder / "model.safetensors")
    name = next(iter(weights))
    weights[name][0] = float("nan")
    save_file(weights, folder / "model.safetensors", metadata={"epoch": "1"})
    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *args, **kwargs: tiny)
    data_dir = tmp_path / "my data"
    for args in (["explore", str(folder), "--export", str(tmp_path / "page.html")],
                 ["sample", str(folder), "-o", str(tmp_path / "s.png")],
                 ["plot", str(folder), "-o", str(tmp_path / "figures")],
                 ["eval", str(folder), "-k", "2"],
                 ["compare", str(runs["ae"].path), str(folder), "-o", str(tmp_path / "c")]):
        for given, flags in ([], ""), (["--data-dir", str(data_dir)], f" --data-dir '{data_dir}'"):
            assert main(args + given) == 2, args + given
            err = capsys.readouterr().err
            assert err == (f"vaelab: error: {folder}/model.safetensors: holds weights that are "
                           f"not finite numbers (NaN or inf), which vaelab never saves, so the "
                           f"file was changed or damaged; vaelab train --resume {folder}{flags} "
                           f"writes it again from the run's checkpoint\n"), args + given
    assert not [*tmp_path.glob("page.html"), *tmp_path.glob("s.png"), *tmp_path.glob("figures"),
                *tmp_path.glob("c")]
    assert not (folder / "eval.json").exists()
    from vaelab import load_run  # from Python: the call, its data_dir= kept

    with pytest.raises(VaelabError) as info:
        load_run(folder, data_dir=data_dir)
    assert str(info.value).endswith(f"; vaelab.resume({str(folder)!r}, data_dir="
                                    f"{str(data_dir)!r}) writes it again from the run's checkpoint")


@pytest.mark.parametrize(("target", "message"), [
    ("folder", "{tmp}/folder is a folder; --out names the file to write, such as "
               "{tmp}/folder/explorer.html"),
    ("a-file/page.html", "{tmp}/a-file is not a folder, so {tmp}/a-file/page.html cannot be "
                         "written; choose another --out"),
    ("a-file/deeper/page.html", "{tmp}/a-file is not a folder, so "
                                "{tmp}/a-file/deeper/page.html cannot be written; choose "
                                "another --out"),
    ("dangling/page.html", "{tmp}/dangling is not a folder, so {tmp}/dangling/page.html "
                           "cannot be written; choose another --out"),
    ("page.txt", "{tmp}/page.txt: the explorer is written as one HTML page; name a file ending "
                 "in .html"),
])
def test_a_bad_export_path_is_one_line_before_any_work(target, message, tmp_path, capsys,
                                                       monkeypatch):
    from vaelab.cli import main

    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    monkeypatch.setattr("vaelab.training.runs.load_run",
                        lambda *a, **k: pytest.fail("loaded the run"))
    assert main(["explore", "no/such/run", "--export", str(tmp_path / target)]) == 2
    assert capsys.readouterr().err == f"vaelab: error: {message.format(tmp=tmp_path)}\n"


def test_an_unwritable_export_folder_is_named(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes into any folder: a read-only disk, as it finds it
        monkeypatch.setattr("vaelab.files.writable", lambda folder: Path(folder) != locked)
    with pytest.raises(VaelabError, match=f"^{locked} is not writable; choose another path$"):
        check_export_path(locked / "page.html")
    assert list(locked.iterdir()) == []


def test_a_port_out_of_range_or_not_allowed_is_one_line(monkeypatch):
    with pytest.raises(VaelabError, match=r"^port 70000 is out of range; choose a port from 1 "
                                          r"to 65535, or 0 for any free port$"):
        ExplorerServer(70000)
    with pytest.raises(VaelabError, match=r"^port 65536 is out of range"):
        ExplorerServer(65536)

    def refuse(self):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ExplorerServer, "server_bind", refuse)
    with pytest.raises(VaelabError, match=r"^port 80 is not open to this user; choose a port "
                                          r"above 1023 with port=N$"):
        ExplorerServer(80)


def _get(port: int, host: str, method: str = "GET") -> int:
    return int(_ask(port, host, method).split()[1])


def _ask(port: int, host: str, method: str) -> bytes:
    """The whole answer to ``method`` / (its status line, headers and any body)."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(f"{method} / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                           .encode())
        return connection.makefile("rb").read()


def test_the_server_answers_only_requests_addressed_to_this_machine():
    server = ExplorerServer(0, "<!doctype html>")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_port
        assert _get(port, "evil.example") == 403
        assert _get(port, f"evil.example:{port}") == 403
        assert _get(port, f"127.0.0.1:{port}") == 200
        assert _get(port, f"localhost:{port}") == 200
        head = _ask(port, f"127.0.0.1:{port}", "HEAD")  # it was 501, not implemented
        assert head.startswith(b"HTTP/1.0 200") and head.endswith(b"\r\n\r\n")
        assert b"Content-Length: 15\r\n" in head  # of the page, which it leaves out
        assert _get(port, "evil.example", "HEAD") == 403
    finally:
        server.shutdown()
        server.server_close()


def test_serving_prints_nothing_and_the_command_names_the_address(runs, tiny, capsys,
                                                                  monkeypatch):
    from vaelab.cli import main
    from vaelab.pictures import explore

    monkeypatch.setattr(ExplorerServer, "serve_forever", lambda self: None)
    urls = []
    explore.serve_explorer(runs["ae"], 0, tiny, on_ready=urls.append)
    assert urls and urls[0].startswith("http://127.0.0.1:")
    assert capsys.readouterr() == ("", "")
    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *args, **kwargs: tiny)
    assert main(["explore", str(runs["ae"].path), "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "vaelab: the explorer is at http://127.0.0.1:" in err
    # Ctrl-C while serving stops it as asked (0); before it served, the command was
    # interrupted, as any is (130), and says nothing of an explorer stopped

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(ExplorerServer, "serve_forever", interrupted)
    assert main(["explore", str(runs["ae"].path), "--port", "0"]) == 0
    assert capsys.readouterr().err.endswith("vaelab: explorer stopped\n")
    monkeypatch.setattr(explore, "build_explorer", lambda *args, **kwargs: interrupted(None))
    assert main(["explore", str(runs["ae"].path), "--port", "0"]) == 130
    err = capsys.readouterr().err
    assert "explorer stopped" not in err and "the explorer is at" not in err, err


# ---------------------------------------------------------------------------------------------
# The classifier's confidence over the plane.


def test_without_a_classifier_or_a_plane_the_shading_says_why(runs, tiny, tmp_path,
                                                              monkeypatch):
    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: tmp_path / "cache")
    monkeypatch.setattr("vaelab.measuring.classifier.shipped_path", lambda dataset: None)
    assert explorer_data(runs["vae"], tiny, points=50)["shading"] == {
        "missing": "no classifier of the MNIST images (28 x 28) ships with vaelab or was "
                   "trained here; "
                   "vaelab classifier train --dataset mnist (or vaelab eval of the run) makes "
                   "one, shown once the page is made again"}
    train_judge(tiny, epochs=1, progress=False)
    assert explorer_data(runs["vae1"], tiny, points=50)["shading"] == {
        "missing": "with one latent dimension there is no plane to shade"}
    config = ModelConfig(hidden_dims=(8,))
    colour = Run(tmp_path / "colour", RunConfig(model=config), build_model(config, (3, 13, 9)))
    images = torch.randint(0, 256, (20, 3, 13, 9), dtype=torch.uint8)
    data = ImageData("mnist", tiny.classes, images, tiny.test_labels[:20], images,
                     tiny.test_labels[:20])
    # Images of another size have a classifier of their own, not MNIST's (none here yet).
    missing = explorer_data(colour, data)["shading"]["missing"]
    assert missing.startswith("no classifier of the MNIST images (9 x 13) ships with vaelab")
    assert judge_key(data) != "mnist"


def _plane_cells(data: dict, cells: int) -> torch.Tensor:
    """The codes at the cell centres of the shading's box on the plane the page opens with
    (principal axes beyond two latent dimensions, else z1 and z2), row by row from the top.
    Checks that the box is the square of the page's first view."""
    d = data["model"]["latent_dims"]
    codes = torch.from_numpy(np.frombuffer(base64.b64decode(data["codes"]), "<f4").copy())
    codes = codes.double().reshape(-1, d)
    if d > 2:
        origin = torch.tensor(data["pca"]["origin"], dtype=torch.float64)
        axes = torch.tensor(data["pca"]["axes"][:2], dtype=torch.float64)
    else:
        origin, axes = torch.zeros(d, dtype=torch.float64), torch.eye(2, d, dtype=torch.float64)
    assert data["shading"]["plane"] == ("pca" if d > 2 else "dims")
    uv = (codes - origin) @ axes.T
    low, high = uv.min(dim=0).values, uv.max(dim=0).values
    half, middle = 0.55 * (high - low).max(), (low + high) / 2
    square = torch.stack([middle[0] - half, middle[0] + half, middle[1] - half, middle[1] + half])
    box = torch.tensor(data["shading"]["box"], dtype=torch.float64)
    torch.testing.assert_close(box, square)
    u0, u1, v0, v1 = box
    steps = (torch.arange(cells, dtype=torch.float64) + 0.5) / cells
    v, u = torch.meshgrid(v1 - steps * (v1 - v0), u0 + steps * (u1 - u0), indexing="ij")
    return (origin + u.reshape(-1, 1) * axes[0] + v.reshape(-1, 1) * axes[1]).float()


@pytest.mark.parametrize("name", ["vae", "vae5", "cvae"])
def test_the_shading_marks_the_cells_the_classifier_is_sure_of(name, runs, tiny, tmp_path,
                                                                monkeypatch):
    """Against cells decoded and judged here. A classifier of a few steps is rarely sure of
    anything, so the threshold is moved to the median confidence: some cells pass, some not."""
    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: tmp_path / "cache")
    monkeypatch.setattr("vaelab.pictures.explore_shading.CELLS", 12)
    judge, model = train_judge(tiny, epochs=1, progress=False), runs[name].model
    labels = range(10) if model.conditional else [None]
    z = _plane_cells(explorer_data(runs[name], tiny, points=100), 12)  # (cells * cells, d)
    with torch.inference_mode():
        sure = torch.stack([predict(judge.model, model.decode(
            z, None if label is None else torch.full((len(z),), label))).max(dim=1).values
            for label in labels])  # (labels, cells * cells)
    threshold = sure.median().item()
    monkeypatch.setattr("vaelab.pictures.explore_shading.CONFIDENT", threshold)
    shading = explorer_data(runs[name], tiny, points=100)["shading"]
    flags = np.frombuffer(base64.b64decode(shading["confident"]), np.uint8)
    assert shading["threshold"] == threshold and len(flags) == len(labels) * 12 * 12
    assert torch.equal(torch.from_numpy(flags.copy()).bool(), (sure >= threshold).flatten())


def test_a_browser_that_hangs_up_early_is_no_error_of_the_servers(capsys):
    """A closed tab while the page was sent printed a traceback of twenty lines."""
    with ExplorerServer(0) as server:
        for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise gone
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 5000))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a fault of the server's own")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 5000))
        assert "ValueError: a fault of the server's own" in capsys.readouterr().err
