"""The latent explorer: its data in Python, and the page in a real browser (Chromium driven by
Playwright) over runs trained for one epoch on tiny synthetic data.

Without Playwright or /usr/bin/chromium the browser tests are skipped, unless
VAELAB_REQUIRE_BROWSER or CI is set: then they fail. VAELAB_ARTIFACTS names a folder for the
screenshot (default: the test's tmp_path).
"""

from __future__ import annotations

import base64
import errno
import json
import os
import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from vaelab.config import ModelConfig, RunConfig, TrainConfig
from vaelab.errors import VaelabError
from vaelab.measuring.latent import encode_dataset
from vaelab.measuring.scorecard import Score, Scorecard
from vaelab.pictures.explore import (
    ExplorerServer,
    build_explorer,
    check_export_path,
    explorer_data,
    export_explorer,
)
from vaelab.training.loop import train
from vaelab.training.runs import load_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
REQUIRE_BROWSER = bool(os.environ.get("VAELAB_REQUIRE_BROWSER") or os.environ.get("CI"))

MODELS = {
    "ae": ModelConfig(model="ae", hidden_dims=(32,)),
    "vae": ModelConfig(model="vae", hidden_dims=(32,)),
    "vae5": ModelConfig(model="vae", latent_dims=5, hidden_dims=(32, 16), activation="tanh"),
    "vae1": ModelConfig(model="vae", latent_dims=1, hidden_dims=(16,)),
}


@pytest.fixture(scope="module")
def runs(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("explore-runs")
    return {name: train(RunConfig(model=model, train=TrainConfig(epochs=1, batch_size=64)),
                        out / name, data=tiny, progress=False)
            for name, model in MODELS.items()}


# ---------------------------------------------------------------------------------------------
# The page's data, without a browser.


def _floats(b64: str) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(base64.b64decode(b64), dtype="<f4").copy())


def test_the_page_data_holds_the_weights_and_the_codes(runs, tiny):
    run = runs["vae5"]
    data = explorer_data(run, tiny, points=100)
    layers = data["model"]["decoder"]
    assert [(layer["in"], layer["out"]) for layer in layers] == [(5, 16), (16, 32), (32, 784)]
    weight = _floats(layers[-1]["weight"]).reshape(784, 32)
    assert torch.equal(weight, run.model.decoder.head[-1].weight.detach())
    codes = _floats(data["codes"]).reshape(-1, 5)
    labels = np.frombuffer(base64.b64decode(data["labels"]), dtype=np.uint8)
    pick = torch.randperm(len(tiny.test_images), generator=torch.Generator().manual_seed(0))
    assert torch.equal(codes, encode_dataset(run.model, tiny.test_images[pick[:100]]))
    assert labels.tolist() == tiny.test_labels[pick[:100]].tolist()
    axes = torch.tensor(data["pca"]["axes"], dtype=torch.float64)
    torch.testing.assert_close(axes @ axes.T, torch.eye(5, dtype=torch.float64))
    assert data["classes"] == list(tiny.classes) and len(data["colors"]) == 10


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
                                              f"--port N$"):
            ExplorerServer(port)


def test_the_command_exports_and_names_a_busy_port(runs, tiny, tmp_path, capsys, monkeypatch):
    from vaelab.cli import main

    monkeypatch.setattr("vaelab.pictures.explore.load_dataset", lambda *args, **kwargs: tiny)
    run = str(runs["ae"].path)
    assert main(["explore", run, "--export", str(tmp_path / "page.html"), "--quiet"]) == 0
    assert f"wrote {tmp_path / 'page.html'}" in capsys.readouterr().err
    assert (tmp_path / "page.html").read_text().startswith("<!doctype html>")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["explore", run, "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"vaelab: error: port {port} is in use; choose another with --port N\n"


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
    assert data["run"]["name"] == "odd<!--<script>&"
    assert None in data["run"]["last"]["train"].values()


def test_explorer_data_leaves_the_models_mode_as_it_was(runs, tiny):
    run = runs["ae"]
    run.model.train()
    try:
        explorer_data(run, tiny, points=50)
        assert run.model.training
    finally:
        run.model.eval()


def test_diverged_weights_are_one_line_from_the_command(runs, tiny, tmp_path, capsys,
                                                        monkeypatch):
    from safetensors.torch import load_file, save_file

    from vaelab.cli import main

    folder = shutil.copytree(runs["vae"].path, tmp_path / "diverged")
    weights = load_file(folder / "model.safetensors")
    name = next(iter(weights))
    weights[name][0] = float("nan")
    save_file(weights, folder / "model.safetensors", metadata={"epoch": "1"})
    monkeypatch.setattr("vaelab.pictures.explore.load_dataset", lambda *args, **kwargs: tiny)
    assert main(["explore", str(folder), "--export", str(tmp_path / "page.html")]) == 2
    err = capsys.readouterr().err
    assert err == (f"vaelab: error: {folder}: the run's weights are not finite numbers (it "
                   f"diverged in training); train it again, with a smaller --lr perhaps\n")
    assert not (tmp_path / "page.html").exists()


@pytest.mark.parametrize(("target", "message"), [
    ("folder", "{tmp}/folder is a folder; name the HTML file to write, such as "
               "{tmp}/folder/explorer.html"),
    ("missing/page.html", "{tmp}/missing does not exist; write the page into an existing "
                          "folder"),
    ("a-file/page.html", "{tmp}/a-file is not a folder; write the page into an existing folder"),
])
def test_a_bad_export_path_is_one_line_before_any_work(target, message, tmp_path, capsys,
                                                       monkeypatch):
    from vaelab.cli import main

    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setattr("vaelab.training.runs.load_run",
                        lambda *a, **k: pytest.fail("loaded the run"))
    assert main(["explore", "no/such/run", "--export", str(tmp_path / target)]) == 2
    assert capsys.readouterr().err == f"vaelab: error: {message.format(tmp=tmp_path)}\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_an_unwritable_export_folder_is_named(tmp_path):
    (tmp_path / "locked").mkdir(mode=0o500)
    with pytest.raises(VaelabError, match="locked is not writable"):
        check_export_path(tmp_path / "locked" / "page.html")


def test_a_port_out_of_range_or_not_allowed_is_one_line(monkeypatch):
    with pytest.raises(VaelabError, match=r"^port 70000 is out of range; choose --port from 1 "
                                          r"to 65535, or 0 for any free port$"):
        ExplorerServer(70000)

    def refuse(self):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ExplorerServer, "server_bind", refuse)
    with pytest.raises(VaelabError, match=r"^port 80 is not open to this user; choose a port "
                                          r"above 1023 with --port N$"):
        ExplorerServer(80)


def _get(port: int, host: str) -> int:
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                           .encode())
        return int(connection.makefile("rb").readline().split()[1])


def test_the_server_answers_only_requests_addressed_to_this_machine():
    server = ExplorerServer(0, "<!doctype html>")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_port
        assert _get(port, "evil.example") == 403
        assert _get(port, f"evil.example:{port}") == 403
        assert _get(port, f"127.0.0.1:{port}") == 200
        assert _get(port, f"localhost:{port}") == 200
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
    monkeypatch.setattr("vaelab.pictures.explore.load_dataset", lambda *args, **kwargs: tiny)
    assert main(["explore", str(runs["ae"].path), "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "vaelab: the explorer is at http://127.0.0.1:" in err


# ---------------------------------------------------------------------------------------------
# The page in Chromium.


@pytest.fixture(scope="module")
def browser():
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
    if reason is None and not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if reason is not None:
        (pytest.fail if REQUIRE_BROWSER else pytest.skip)(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Visit:
    """A page opened in the browser, with every console error and request it made."""

    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert self.errors == []
        assert self.requests, "no request recorded"
        foreign = [url for url in self.requests
                   if not url.startswith(("http://127.0.0.1:", "file://", "data:"))]
        assert foreign == []

    def plane_box(self) -> dict[str, float]:
        return self.page.locator("#overlay").bounding_box()

    def hover(self, x: float, y: float) -> tuple[list[float], np.ndarray]:
        """Move the pointer to (x, y) px of the plane; the code decoded and the pixels shown
        (paper = 255, ink = 0)."""
        box = self.plane_box()
        self.page.mouse.move(box["x"] + x, box["y"] + y)
        z = self.page.evaluate("window.explorer.hover.z")
        return z, self.pixels("decoded")

    def pixels(self, canvas: str, x: int = 0, width: int = 28, y: int = 0) -> np.ndarray:
        """The red channel of a 28-pixel-high region of a canvas, as (28, width)."""
        data = self.page.evaluate(
            f"Array.from(document.getElementById('{canvas}').getContext('2d')"
            f".getImageData({x}, {y}, {width}, 28).data)")
        return np.asarray(data, dtype=np.int16).reshape(28, width, 4)[:, :, 0]

    def zoom_out(self) -> None:
        box = self.plane_box()
        self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        self.page.mouse.wheel(0, 3000)  # 90 times as much plane in view
        self.page.wait_for_function("window.explorer.hover !== null")


@pytest.fixture
def visit(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})

    def open_page(url: str, ready: bool = True) -> Visit:
        page = context.new_page()
        seen = Visit(page)
        page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda err: seen.errors.append(str(err)))
        page.on("request", lambda request: seen.requests.append(request.url))
        page.goto(url)
        if ready:
            page.wait_for_selector("body[data-ready='1']", state="attached", timeout=10_000)
            assert page.locator("#failure").is_hidden()
        return seen

    yield open_page
    context.close()


@pytest.fixture(scope="module")
def served(runs, tiny):
    """Each run's explorer served on a free port of 127.0.0.1: name -> address."""
    servers = {}
    for name, run in runs.items():
        server = ExplorerServer(0, build_explorer(run, tiny))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[name] = server
    yield {name: server.url for name, server in servers.items()}
    for server in servers.values():
        server.shutdown()
        server.server_close()


def _paper(run, z) -> np.ndarray:
    """What the page should show for code z: 255 * (1 - decoded pixel), rounded."""
    with torch.inference_mode():
        image = run.model.decode(torch.tensor([z], dtype=torch.float32))[0, 0]
    return (255 * (1 - image)).round().numpy().astype(np.int16)


@pytest.mark.parametrize("name", list(MODELS))
def test_the_page_loads_with_legend_facts_and_points(name, served, visit):
    seen = visit(served[name])
    page = seen.page
    assert page.locator("#legend li").all_inner_texts() == [str(d) for d in range(10)]
    assert "Settings" in page.inner_text("#facts")
    assert page.title() == f"vaelab explorer: {name}"
    painted = page.evaluate("""(() => {
        const c = document.getElementById('points');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) n += px[i] > 0;
        return n; })()""")
    assert painted > 1000
    seen.check()


@pytest.mark.parametrize("name", ["ae", "vae", "vae5", "vae1"])
def test_hover_shows_the_models_own_decoding(name, runs, served, visit):
    seen = visit(served[name])
    seen.zoom_out()
    z_a, shown_a = seen.hover(100, 120)
    z_b, shown_b = seen.hover(480, 450)
    assert np.abs(shown_a - shown_b).max() > 20, "two places, one image"
    for z, shown in ((z_a, shown_a), (z_b, shown_b)):
        assert np.abs(shown - _paper(runs[name], z)).max() <= 2
    latency = seen.page.evaluate("window.explorer.latency")
    assert len(latency) >= 2 and all(ms >= 0 for ms in latency)
    seen.check()


def test_zoom_and_pan_move_the_plane_under_the_pointer(served, visit):
    seen = visit(served["vae"])
    seen.hover(300, 300)
    before = seen.page.evaluate("window.explorer.hover")
    box = seen.plane_box()
    seen.page.mouse.down()
    seen.page.mouse.move(box["x"] + 400, box["y"] + 300, steps=5)
    seen.page.mouse.up()
    seen.hover(300, 300)
    panned = seen.page.evaluate("window.explorer.hover")
    assert panned["u"] < before["u"] and panned["v"] == pytest.approx(before["v"], abs=1e-6)
    seen.page.mouse.wheel(0, -500)  # zoom in around the pointer
    seen.hover(400, 300)
    zoomed = seen.page.evaluate("window.explorer.hover")
    assert 0 < zoomed["u"] - panned["u"] < before["u"] - panned["u"]
    assert seen.page.evaluate("window.explorer.picks.length") == 0, "a drag is not a click"
    seen.check()


def test_two_clicks_give_a_strip_and_an_animation(runs, served, visit):
    seen = visit(served["vae"])
    seen.zoom_out()
    box = seen.plane_box()
    for x, y in ((90, 90), (500, 480)):
        seen.page.mouse.click(box["x"] + x, box["y"] + y)
    picks = seen.page.evaluate("window.explorer.picks.map((p) => Array.from(p.z))")
    assert len(picks) == 2
    first, last = seen.pixels("strip", 0), seen.pixels("strip", 4 * 28, y=28)  # 2 rows of 5
    assert np.abs(first - _paper(runs["vae"], picks[0])).max() <= 2
    assert np.abs(last - _paper(runs["vae"], picks[1])).max() <= 2
    frames = []
    for _ in range(4):
        frames.append(seen.pixels("animation"))
        seen.page.wait_for_timeout(150)
    assert any(np.abs(frames[0] - f).max() > 0 for f in frames[1:]), "the animation stands still"
    caption = seen.page.inner_text("#interp-empty")
    assert caption.startswith("From A (") and " to B (" in caption and "z = (" in caption
    seen.check()


def test_only_the_main_button_picks(served, visit):
    seen = visit(served["vae"])
    box = seen.plane_box()
    for button in ("right", "middle"):
        seen.page.mouse.click(box["x"] + 200, box["y"] + 200, button=button)
    assert seen.page.evaluate("window.explorer.picks.length") == 0
    seen.page.mouse.click(box["x"] + 200, box["y"] + 200)
    assert seen.page.evaluate("window.explorer.picks.length") == 1
    seen.check()


def test_enlarged_images_are_whole_number_scales(served, visit):
    seen = visit(served["vae"])
    box = seen.plane_box()
    for x, y in ((90, 90), (500, 480)):  # the interpolation shows
        seen.page.mouse.click(box["x"] + x, box["y"] + y)
    scales = seen.page.evaluate("""[...document.querySelectorAll('canvas.pixels')].map(
        (c) => [c.id, c.clientWidth / c.width, c.clientHeight / c.height])""")
    assert {name: (x, y) for name, x, y in scales} == {
        "decoded": (10, 10), "draw": (6, 6), "recon": (6, 6), "strip": (3, 3),
        "animation": (6, 6)}
    seen.check()


def test_a_narrow_window_gets_one_column_and_a_smaller_plane(runs, served, visit):
    seen = visit(served["vae"])
    seen.page.set_viewport_size({"width": 560, "height": 900})
    seen.page.wait_for_function("document.getElementById('overlay').clientWidth < 592")
    assert seen.page.evaluate("document.documentElement.scrollWidth") <= 560
    box = seen.plane_box()
    aside = seen.page.locator("aside").bounding_box()
    assert aside["y"] > box["y"] + box["height"], "the aside is not below the plane"
    seen.zoom_out()
    z, shown = seen.hover(box["width"] * 0.2, box["height"] * 0.7)
    assert np.abs(shown - _paper(runs["vae"], z)).max() <= 2
    seen.check()


def test_the_page_loads_whatever_the_run_is_named_and_with_nan_metrics(runs, tiny, visit,
                                                                         tmp_path):
    run = _copy_run(runs["vae"], tmp_path / "odd<!--<script>&")
    (run.path / "metrics.jsonl").write_text(
        (run.path / "metrics.jsonl").read_text().replace('"loss": ', '"loss": NaN, "was": ', 1))
    seen = visit(export_explorer(load_run(run.path), tmp_path / "page.html", data=tiny).as_uri())
    assert seen.page.title() == "vaelab explorer: odd<!--<script>&"
    assert "—" in seen.page.inner_text("#metrics-table")
    seen.check()


def test_a_script_that_fails_shows_a_banner(runs, tiny, visit, tmp_path):
    page = build_explorer(runs["ae"], tiny).replace(
        '<script id="explorer-data" type="application/json">',
        '<script id="explorer-data" type="application/json">not JSON', 1)
    (tmp_path / "broken.html").write_text(page)
    seen = visit((tmp_path / "broken.html").as_uri(), ready=False)
    banner = seen.page.locator("#failure")
    banner.wait_for(state="visible")
    assert banner.inner_text().startswith("The explorer could not start: ")
    assert seen.errors, "the error did not reach the console"


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_a_drawing_is_encoded_and_marked_on_the_plane(name, runs, served, visit, tmp_path):
    seen = visit(served[name])
    seen.zoom_out()
    page = seen.page
    box = page.locator("#draw").bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 100, box["y"] + 130, steps=12)
    page.mouse.up()
    drawn = page.evaluate("window.explorer.drawn")
    pixels = torch.tensor(drawn["pixels"]).reshape(1, 1, 28, 28)
    assert 20 < (pixels > 0.5).sum() < 200
    with torch.inference_mode():
        posterior = runs[name].model.encode(pixels)
    if name == "vae":
        torch.testing.assert_close(torch.tensor(drawn["mean"]), posterior.mean[0],
                                   atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(torch.tensor(drawn["std"]), posterior.std[0],
                                   atol=1e-4, rtol=1e-4)
    else:
        torch.testing.assert_close(torch.tensor(drawn["mean"]), posterior[0],
                                   atol=1e-4, rtol=1e-4)
        assert drawn["std"] is None
    x, y = page.evaluate("window.explorer.toScreen(window.explorer.drawn.mean)")
    assert 0 <= x < 592 and 0 <= y < 592, "the drawing lands off the plane shown"
    ratio = page.evaluate("window.devicePixelRatio")
    alpha = page.evaluate(f"document.getElementById('overlay').getContext('2d')"
                          f".getImageData({round(x * ratio)}, {round(y * ratio)}, 1, 1).data[3]")
    assert alpha > 0, "no marker where the drawing's code is"
    assert np.abs(seen.pixels("recon") - _paper(runs[name], drawn["mean"])).max() <= 2
    if name == "vae":
        artifacts = Path(os.environ.get("VAELAB_ARTIFACTS") or tmp_path)
        artifacts.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "explorer.png"), full_page=True)
        assert (artifacts / "explorer.png").stat().st_size > 10_000
    seen.check()


def test_sliders_set_the_other_coordinates(runs, served, visit):
    seen = visit(served["vae5"])
    page = seen.page
    sliders = page.locator("#sliders input[type=range]")
    assert [s.get_attribute("data-name") for s in sliders.all()] == ["PC 3", "PC 4", "PC 5"]
    seen.zoom_out()
    z_before, shown_before = seen.hover(300, 300)
    sliders.nth(0).fill(sliders.nth(0).get_attribute("max"))
    z_after = page.evaluate("window.explorer.hover.z")
    shown_after = seen.pixels("decoded")
    assert z_after != z_before
    assert np.abs(shown_after - _paper(runs["vae5"], z_after)).max() <= 2
    assert np.abs(shown_after - shown_before).max() > 0
    page.select_option("#plane-kind", "dims")
    assert float(sliders.nth(0).get_attribute("min")) <= -3  # the prior's -3 std, for a VAE
    assert float(sliders.nth(0).get_attribute("max")) >= 3
    page.select_option("#axis-u", "2")
    names = [s.get_attribute("data-name") for s in sliders.all()]
    assert names == ["z1", "z4", "z5"]  # the plane is (z3, z2)
    page.select_option("#axis-v", "2")  # the horizontal's own: the two swap
    assert [page.input_value("#axis-u"), page.input_value("#axis-v")] == ["1", "2"]
    assert page.inner_text("#axes-caption").startswith("Horizontal: z2; vertical: z3.")
    assert [s.get_attribute("data-name") for s in sliders.all()] == ["z1", "z4", "z5"]
    seen.check()


def test_the_exported_file_works_from_disk_without_a_server(runs, tiny, visit, tmp_path):
    path = export_explorer(runs["ae"], tmp_path / "ae.html", data=tiny)
    seen = visit(path.as_uri())
    z, shown = seen.hover(250, 250)
    assert np.abs(shown - _paper(runs["ae"], z)).max() <= 2
    assert all(url.startswith("file://") for url in seen.requests)
    seen.check()


def test_the_page_shows_the_runs_evaluation(runs, tiny, visit, tmp_path):
    folder = shutil.copytree(runs["vae"].path, tmp_path / "measured")
    card = Scorecard(run=str(folder), model="vae", latent_dims=2, epochs=1, split="test",
                     images=128, k=50, samples=10, seed=0, likelihood={"description": "test"},
                     classifier=None, metrics={"nll": Score(97.25, 0.5)})
    (folder / "eval.json").write_text(json.dumps(card.to_dict()))
    seen = visit(export_explorer(load_run(folder), tmp_path / "page.html", data=tiny).as_uri())
    table = seen.page.inner_text("#eval-table")
    assert "NLL, importance-weighted bound, k = 50 (nats)" in table and "97.25 ± 0.50" in table
    seen.check()
