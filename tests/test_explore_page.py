"""The latent explorer's page in a real browser (Chromium driven by Playwright): hover, zoom,
picks, drawing, sliders and the run's facts, over runs trained for one epoch on tiny synthetic
data. The nets' parity with PyTorch for every architecture, colour, conditional models,
several runs on one page and the confidence layer are in test_explore_models.py.

Without Playwright or /usr/bin/chromium the browser tests are skipped, unless
VAELAB_REQUIRE_BROWSER or CI is set: then they fail. VAELAB_ARTIFACTS names a folder for the
screenshots (default: the test's tmp_path).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from test_explore import MODELS
from vaelab.config import RunConfig, TrainConfig
from vaelab.measuring.scorecard import Score, Scorecard
from vaelab.pictures.explore import ExplorerServer, build_explorer, export_explorer
from vaelab.pictures.explore_ops import as_in_page
from vaelab.pictures.figures import write_run_figures
from vaelab.pictures.report import write_run_page
from vaelab.training.loop import train
from vaelab.training.runs import load_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
REQUIRE_BROWSER = bool(os.environ.get("VAELAB_REQUIRE_BROWSER") or os.environ.get("CI"))


def trained_runs(tiny, folder: Path) -> dict:
    """MODELS trained for one epoch on ``tiny``: name -> Run."""
    return {name: train(RunConfig(model=model, train=TrainConfig(epochs=1, batch_size=64)),
                        folder / name, data=tiny, progress=False)
            for name, model in MODELS.items()}


def launched() -> Iterator:
    """Chromium, headless, for the while of a module: skipped (or failed where required)
    without Playwright or Chromium."""
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


@pytest.fixture(scope="module")
def runs(tiny, tmp_path_factory):
    return trained_runs(tiny, tmp_path_factory.mktemp("explore-runs"))


@dataclass
class Visit:
    """A page opened in the browser, with every console error and request it made. ``run``
    arguments count the page's runs (columns) from 0."""

    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert self.errors == []
        assert self.requests, "no request recorded"
        foreign = [url for url in self.requests
                   if not url.startswith(("http://127.0.0.1:", "file://", "data:"))]
        assert foreign == []

    def part(self, name: str, run: int = 0):
        return self.page.locator(f".{name}").nth(run)

    def plane_box(self, run: int = 0) -> dict[str, float]:
        return self.part("overlay", run).bounding_box()

    def state(self, expression: str, run: int = 0):
        return self.page.evaluate(f"window.explorer.runs[{run}].{expression}")

    def hover(self, x: float, y: float, run: int = 0, shown: int = 0
              ) -> tuple[list[float], np.ndarray]:
        """Move the pointer to (x, y) px of a run's plane; the code that run ``shown``
        decoded there and the red channel of its pixels (paper = 255, ink = 0)."""
        box = self.plane_box(run)
        self.page.mouse.move(box["x"] + x, box["y"] + y)
        return self.state("hover.z", shown), self.pixels("decoded", run=shown)

    def rgba(self, canvas: str, x: int = 0, y: int = 0, width: int | None = None,
             height: int | None = None, run: int = 0) -> np.ndarray:
        """A region of a canvas (its whole height and width by default) as (h, w, 4)."""
        # The bytes travel as base64: a list of a whole canvas's numbers (over a million) costs
        # Playwright's message checks a minute.
        w, h, encoded = self.page.evaluate(
            """([name, run, x, y, width, height]) => {
                const c = document.querySelectorAll('.' + name)[run];
                const [w, h] = [width ?? c.width - x, height ?? c.height - y];
                const bytes = c.getContext('2d').getImageData(x, y, w, h).data;
                let text = '';
                for (let i = 0; i < bytes.length; i += 0x8000) {
                  text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
                }
                return [w, h, btoa(text)];
            }""", [canvas, run, x, y, width, height])
        values = np.frombuffer(base64.b64decode(encoded), dtype=np.uint8)
        return values.astype(np.int16).reshape(h, w, 4)

    def pixels(self, canvas: str, x: int = 0, width: int = 28, y: int = 0, run: int = 0
               ) -> np.ndarray:
        """The red channel of a 28-pixel-high region of a canvas, as (28, width)."""
        return self.rgba(canvas, x, y, width, 28, run)[:, :, 0]

    def zoom_out(self, run: int = 0) -> None:
        box = self.plane_box(run)
        self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        self.page.mouse.wheel(0, 3000)  # 90 times as much plane in view
        self.page.wait_for_function("window.explorer.hover !== null")

    def draw(self, run: int = 0) -> None:
        """A stroke from the pad's upper left to its lower right."""
        self.part("draw", run).scroll_into_view_if_needed()
        box = self.part("draw", run).bounding_box()
        self.page.mouse.move(box["x"] + 60, box["y"] + 40)
        self.page.mouse.down()
        self.page.mouse.move(box["x"] + 100, box["y"] + 130, steps=12)
        self.page.mouse.up()


def visits(browser, **options) -> Iterator[Callable[..., Visit]]:
    """Opens pages in a context of their own (with Playwright's ``options``, such as a touch
    screen's): visit(url) -> Visit, once the page is ready."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, **options)
    # Any request to another host is blocked here, and recorded (Visit.check fails on it).
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:|file:|data:)"),
                  lambda route: route.abort("blockedbyclient"))

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
def served(runs, tiny, tmp_path_factory):
    """Each run's explorer served on a free port of 127.0.0.1: name -> address. Built with a
    user cache of its own, which holds no classifier."""
    servers = {}
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("served-cache")
        patch.setattr("vaelab.data.sources.cache_root", lambda: cache)
        for name, run in runs.items():
            server = ExplorerServer(0, build_explorer(run, tiny))
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers[name] = server
    yield {name: server.url for name, server in servers.items()}
    for server in servers.values():
        server.shutdown()
        server.server_close()


def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VAELAB_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def in_page(model):
    """A copy of the model with the weights the page has (float16)."""
    return as_in_page(copy.deepcopy(model)).eval()


def paper(run, z, y=None) -> np.ndarray:
    """What the page should show for code z (and label y): 255 * (1 - decoded pixel), rounded,
    of the first channel, decoded with the page's weights."""
    with torch.inference_mode():
        label = None if y is None else torch.tensor([y])
        image = in_page(run.model).decode(torch.tensor([z], dtype=torch.float32), label)[0, 0]
    return (255 * (1 - image)).round().numpy().astype(np.int16)


# ---------------------------------------------------------------------------------------------
# One run.


@pytest.mark.parametrize("name", list(MODELS))
def test_the_page_loads_with_legend_facts_and_points(name, served, visit):
    seen = visit(served[name])
    page = seen.page
    assert seen.part("legend").locator("li").all_inner_texts() == [str(d) for d in range(10)]
    assert "Settings" in seen.part("facts").inner_text()
    assert page.title() == f"vaelab explorer: {name}"
    assert seen.part("run-title").is_hidden() and page.locator("#together").is_hidden()
    painted = seen.rgba("points")[:, :, 3]
    assert (painted > 0).sum() > 1000
    seen.check()


@pytest.mark.parametrize("name", ["ae", "vae", "vae5", "vae1", "cvae"])
def test_hover_shows_the_models_own_decoding(name, runs, served, visit):
    seen = visit(served[name])
    seen.zoom_out()
    z_a, shown_a = seen.hover(100, 120)
    z_b, shown_b = seen.hover(480, 450)
    assert np.abs(shown_a - shown_b).max() > 20, "two places, one image"
    label = 0 if runs[name].model.conditional else None  # the class the page starts with
    for z, shown in ((z_a, shown_a), (z_b, shown_b)):
        assert np.abs(shown - paper(runs[name], z, label)).max() <= 1
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
    # 2 rows of 5 frames, a white pixel between two
    first, last = seen.pixels("strip", 0), seen.pixels("strip", 4 * 29, y=29)
    assert seen.rgba("strip").shape == (2 * 29 - 1, 5 * 29 - 1, 4)
    gaps = np.concatenate([seen.rgba("strip", 28, 0, 1)[:, 0, :3].ravel(),
                           seen.rgba("strip", 0, 28, None, 1)[0, :, :3].ravel()])
    assert (gaps == 255).all()
    assert np.abs(first - paper(runs["vae"], picks[0])).max() <= 1
    assert np.abs(last - paper(runs["vae"], picks[1])).max() <= 1
    frames = []
    for _ in range(4):
        frames.append(seen.pixels("animation"))
        seen.page.wait_for_timeout(150)
    assert any(np.abs(frames[0] - f).max() > 0 for f in frames[1:]), "the animation stands still"
    # A button pauses it (motion that goes on, for a reader it distracts) and plays it again;
    # its name says what a press does next
    assert seen.page.get_by_role("button", name="pause").count() == 1
    toggle = seen.part("anim-toggle")
    toggle.click()
    assert toggle.inner_text() == "play" and toggle.get_attribute("aria-pressed") is None
    paused = seen.pixels("animation")
    seen.page.wait_for_timeout(300)
    assert (seen.pixels("animation") == paused).all(), "paused, and still moving"
    seen.part("overlay").scroll_into_view_if_needed()  # the button was scrolled to
    box = seen.plane_box()
    for x, y in ((480, 90), (90, 480)):  # a new line stays paused, at its first frame
        seen.page.mouse.click(box["x"] + x, box["y"] + y)
    assert seen.state("picks[0].z") != picks[0]
    first = seen.pixels("animation")
    seen.page.wait_for_timeout(300)
    assert (seen.pixels("animation") == first).all()
    assert (first == seen.pixels("strip")).all()  # the strip's first frame, the line's start
    toggle.click()
    seen.page.wait_for_timeout(300)
    assert (seen.pixels("animation") != first).any() and toggle.inner_text() == "pause"
    caption = seen.part("interp-note").inner_text()
    assert caption.startswith("From the start (") and " to the end (" in caption
    assert "z = (" in caption
    seen.check()


def test_where_less_motion_is_asked_two_clicks_give_the_strip_alone(runs, served, visit):
    seen = visit(served["vae"])
    seen.page.emulate_media(reduced_motion="reduce")
    box = seen.plane_box()
    for x, y in ((90, 90), (500, 480)):
        seen.page.mouse.click(box["x"] + x, box["y"] + y)
    assert seen.part("strip").is_visible() and seen.part("animation").is_hidden()
    assert seen.part("anim-toggle").is_hidden()  # nothing to pause
    assert seen.part("interp-note").inner_text().endswith(
        "Not animated, as this system asks for less motion.")
    seen.check()


def test_the_plane_answers_the_keyboard_and_a_new_line_clears_the_old(served, visit):
    """Tab, arrows, Enter, + and - and 0: a keyboard alone explores the plane; a third pick
    starts a new line and takes the old one's strip away; zoom stops at a thousand times."""
    seen = visit(served["vae"])
    keys = seen.page.keyboard
    seen.part("overlay").focus()

    def step(key: str = "ArrowRight") -> float:  # how far one press moves the pointer
        before = seen.state("hover.z") or [0.0, 0.0]
        keys.press(key)
        after = seen.state("hover.z")
        return after[0] - before[0] if key == "ArrowRight" else after[1] - before[1]

    step()
    fitted = step()
    assert fitted > 0 and step("ArrowUp") == pytest.approx(fitted, rel=1e-4)
    keys.press("Enter")
    for _ in range(5):
        step("ArrowUp")
    keys.press("Enter")
    assert seen.state("picks.length") == 2 and seen.part("strip").is_visible()
    keys.press("Enter")  # a third pick: a new start, and no strip of the old line
    assert seen.state("picks.length") == 1 and not seen.part("strip").is_visible()
    keys.press("+")
    assert step() == pytest.approx(fitted / 1.25, rel=1e-3)
    keys.press("0")
    assert step() == pytest.approx(fitted, rel=1e-3)
    box = seen.plane_box()
    seen.page.mouse.move(box["x"] + 100, box["y"] + 100)
    seen.page.mouse.wheel(0, -100_000)  # far past the limit
    seen.part("overlay").focus()
    assert step() == pytest.approx(fitted / 1000, rel=1e-3)
    overlay = seen.rgba("overlay")  # the start, out of view now: an arrowhead on the border
    rim = np.ones(overlay.shape[:2], bool)
    rim[12:-12, 12:-12] = False
    ink = (np.abs(overlay[..., :3] - [29, 35, 48]).max(axis=-1) < 40) & (overlay[..., 3] > 200)
    assert ink[rim].any() and not ink[~rim].any()
    seen.part("fit-view").click()
    seen.part("overlay").focus()
    assert step() == pytest.approx(fitted, rel=1e-3)
    seen.check()


def _apart(a, b) -> bool:
    """Whether two axis numbers ([text, x, y, width], y their baseline) stand apart."""
    return a[1] + a[3] + 5 <= b[1] or b[1] + b[3] + 5 <= a[1] or abs(a[2] - b[2]) >= 12


def test_the_axes_numbers_that_the_planes_edge_would_cut_are_left_out(served, visit):
    """An AE's plane showed "10" as "1" at its right edge, and a "5" sliced at its top; the
    bottom-left corner could show both axes' "-4" as one "-4-4"."""
    seen = visit(served["ae"])
    box, size = seen.plane_box(), seen.page.evaluate("document.querySelector('.overlay')"
                                                     ".clientWidth")
    shown, cut = 0, []
    for k in range(16):  # zoomed and moved, so that some grid line lies by an edge
        seen.page.mouse.move(box["x"] + 37 * k % box["width"], box["y"] + 53 * k % box["height"])
        seen.page.mouse.wheel(0, -40 if k % 2 else 70)
        seen.page.wait_for_timeout(30)
        ticks = seen.state("ticks")
        assert ticks, "no numbers on the axes"
        for text, x, y, width in ticks:
            assert x >= 0 and x + width <= size - 2 and 11 <= y <= size, (text, x, y, width)
        assert all(_apart(a, b) for a, b in itertools.combinations(ticks, 2)), ticks
        shown += len(ticks)
        cut += [(tick, ticks) for tick in seen.state("ticksCut")]
    assert shown >= 16 * 6
    assert cut, "no number came by an edge: the test moved the plane too little"
    for (text, x, y, width), ticks in cut:  # over the right edge or the top, or on another
        assert x + width > size - 2 or y < 11 or not all(
            _apart((text, x, y, width), tick) for tick in ticks), (text, x, y, width)
    seen.check()


def test_each_class_is_named_at_the_middle_of_its_codes_and_the_legend_says_so(runs, tiny,
                                                                               served, visit):
    """The plane told its classes apart by colour alone, which several readers cannot (red
    and green merge for the colour-blind); latent.png names them in place, and so does the
    plane now, each name where its codes lie thickest (as latent.png's: names._densest),
    none on another."""
    from vaelab.pictures.explore import explorer_data
    from vaelab.pictures.names import _densest, _spread

    seen = visit(served["vae"])
    names = seen.state("names")
    assert sorted(mark for mark, _, _ in names) == sorted(tiny.classes)
    for (_, x0, y0), (_, x1, y1) in itertools.combinations(names, 2):
        assert np.hypot(x1 - x0, y1 - y0) >= 15.9
    data = explorer_data(runs["vae"], tiny)  # the page's own codes: a plane of z1 and z2
    codes = np.frombuffer(base64.b64decode(data["codes"]), "<f4").reshape(-1, 2)
    labels = np.frombuffer(base64.b64decode(data["labels"]), "<u2")
    # The pointer's line, which a screen reader reads, says whose codes it is by
    x, y = seen.state(f"planeToScreen({float(codes[7, 0])}, {float(codes[7, 1])})")
    seen.hover(x, y)  # on test code 7
    assert seen.part("pointer-z").inner_text().endswith(f"; by a test {tiny.classes[labels[7]]}")
    for mark, x, y in names:
        every = codes.astype(np.float64)
        u, v = _densest(every, _spread(every), labels == tiny.classes.index(mark))
        at = seen.state(f"planeToScreen({float(u)}, {float(v)})")
        assert np.hypot(x - at[0], y - at[1]) <= 16, (mark, x, y, at)
    assert data["legend"] == list(tiny.classes) and data["marks"] == list(tiny.classes)
    # The page weighs codes as names._densest does, on classes large enough to be weighed:
    # an arc, two clouds of which one half lies in the other's thicker one, a class of a few
    # codes (under FEW: at their median) and an arc of 20 round the others
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, np.pi, 1500)
    parts = [np.stack([np.cos(angles), np.sin(angles)], 1) * 3 + rng.normal(0, 0.1, (1500, 2)),
             rng.normal(0, 0.3, (2500, 2)), rng.normal(0, 0.3, (900, 2)),
             rng.normal(0, 0.3, (600, 2)) + 4, rng.normal(0, 1, (8, 2)),
             np.stack([np.cos(angles[:20]), np.sin(angles[:20])], 1) * 6]
    codes = np.concatenate(parts)
    labels = np.repeat([0, 1, 2, 2, 3, 4], [len(part) for part in parts])
    order = rng.permutation(len(codes))  # the page's codes come in no order of class
    codes, labels = codes[order], labels[order]
    placed = seen.state(f"namePlaces({codes[:, 0].tolist()}, {codes[:, 1].tolist()}, "
                        f"{labels.tolist()}, 5)")
    assert [c for c, _, _ in placed] == [0, 1, 2, 3, 4]
    for c, u, v in placed:
        np.testing.assert_allclose([u, v], _densest(codes, _spread(codes), labels == c),
                                   rtol=1e-12, atol=1e-12, err_msg=str(c))
    assert np.hypot(*np.subtract(placed[2][1:], 4)) < 1  # where the class is its own
    assert abs(np.hypot(*placed[4][1:]) - 6) < 0.01  # on 20 codes round others, not amid them
    seen.check()


def test_the_plane_stays_sharp_on_a_screen_of_another_density(served, browser):
    """Moved to a screen of twice the pixels (or zoomed), the plane's layers kept the pixels
    they had: a blurred plane until the page was loaded again. Headless Chromium tells the
    page of such a change neither by its media query nor by a resize, so this checks what
    holds without them: the plane's next drawing (here the sliders' reset, which draws the
    codes alone) takes the new pixels, and draws the picks again on the overlay it cleared."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(served["vae5"])
    page.wait_for_function("window.explorer")
    box = page.locator(".overlay").bounding_box()
    for x, y in ((150, 150), (400, 420)):  # two picks, on the overlay
        page.mouse.click(box["x"] + x, box["y"] + y)
    sizes = "[...document.querySelectorAll('.points, .overlay')].map(c => c.width)"
    before = page.evaluate(sizes)
    cdp = context.new_cdp_session(page)  # the same CSS pixels, each of 2 x 2 on the screen
    cdp.send("Emulation.setDeviceMetricsOverride",
             {"width": 1280, "height": 1000, "deviceScaleFactor": 2, "mobile": False})
    page.locator(".sliders-reset").click()
    page.wait_for_function(f"{sizes}.every(w => w === 2 * {before[0]})", timeout=5000)
    inked = page.evaluate("""() => {
        const c = document.querySelector('.overlay');
        const alpha = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < alpha.length; i += 4) n += alpha[i] > 0;
        return n;
    }""")
    assert inked > 200, "the picks were not drawn again on the re-sized overlay"
    context.close()


def test_only_the_main_button_picks(served, visit):
    seen = visit(served["vae"])
    box = seen.plane_box()
    for button in ("right", "middle"):
        seen.page.mouse.click(box["x"] + 200, box["y"] + 200, button=button)
    assert seen.page.evaluate("window.explorer.picks.length") == 0
    seen.page.mouse.click(box["x"] + 200, box["y"] + 200)
    assert seen.page.evaluate("window.explorer.picks.length") == 1
    seen.check()


def test_a_tap_decodes_and_marks_where_it_lands_and_picks_it(runs, served, browser):
    """A touch screen has no hover: a tap shows what the decoder makes of the place tapped,
    marks it with the cross, and picks it, as a click does."""
    for visit in visits(browser, has_touch=True):
        seen = visit(served["vae"])
        box = seen.plane_box()
        for x, y in ((0.2, 0.5), (0.7, 0.3)):
            seen.page.touchscreen.tap(box["x"] + x * box["width"], box["y"] + y * box["height"])
            hover = seen.state("hover")
            at = seen.state(f"planeToScreen({hover['u']}, {hover['v']})")
            assert at == pytest.approx([x * box["width"], y * box["height"]], abs=1)
            assert np.abs(seen.pixels("decoded") - paper(runs["vae"], hover["z"])).max() <= 1
        assert seen.state("picks.length") == 2
        cross = seen.rgba("overlay")  # the cross (dark ink) at the second tap
        x, y = (round(t * seen.page.evaluate("devicePixelRatio")) for t in at)
        assert (cross[y - 3:y + 4, x - 3:x + 4, 3] > 200).any()
        seen.check()
        # In a narrow window the decoder stands below the plane: what a tap decoded shows over
        # the plane, and stays when the finger lifts (which leaves the plane too)
        box = _narrowed(seen, 560, 900)
        seen.part("overlay").scroll_into_view_if_needed()
        box = seen.plane_box()
        seen.page.touchscreen.tap(box["x"] + 0.3 * box["width"], box["y"] + 0.6 * box["height"])
        assert seen.part("inset").is_visible()
        seen.check()


def test_on_a_phone_two_fingers_pinch_the_plane_and_the_controls_fit_a_finger(served,
                                                                              browser):
    """On a phone the plane could not be zoomed (only a wheel zoomed it), a landscape phone
    showed the plane taller than its screen, the buttons were 23 px high and the pad said to
    draw 'with the mouse'."""
    for visit in visits(browser, has_touch=True, is_mobile=True):
        seen = visit(served["vae"])
        seen.page.set_viewport_size({"width": 390, "height": 844})
        seen.page.wait_for_function("document.querySelector('.overlay').clientWidth < 400")
        seen.part("overlay").scroll_into_view_if_needed()
        box = seen.plane_box()
        scale = seen.state("scale")
        mid = [box["x"] + box["width"] / 2 + 20, box["y"] + box["height"] / 2 - 10]
        under = seen.state(f"screenToPlane({mid[0] - box['x']}, {mid[1] - box['y']})")
        cdp, before = seen.page.context.new_cdp_session(seen.page), seen.state("hover")

        for kind, apart in [("touchStart", 60), *(("touchMove", a) for a in range(70, 181, 10))]:
            # two fingers about mid, spread from 60 to 180 px apart: three times the scale
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
                {"x": mid[0] + side * apart / 2, "y": mid[1], "id": k}
                for k, side in enumerate((-1, 1))]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert seen.state("scale") == pytest.approx(3 * scale, rel=0.02)
        after = seen.state(f"screenToPlane({mid[0] - box['x']}, {mid[1] - box['y']})")
        assert after == pytest.approx(under, abs=0.5 / seen.state("scale"))  # kept there
        assert seen.state("picks.length") == 0  # a pinch picks nothing, and decodes nothing
        assert seen.state("hover") == before  # (each finger's moves decoded in turn: a flicker)
        assert seen.part("drawn-z").inner_text().startswith("Draw a digit with a finger.")
        for name, least in (("fit-view", 32), ("draw-clear", 44)):  # as a finger can hit
            assert seen.part(name).bounding_box()["height"] >= least, name
        seen.page.set_viewport_size({"width": 844, "height": 390})  # held sideways
        seen.page.wait_for_function("document.querySelector('.overlay').clientHeight <= 366")
        assert seen.plane_box()["height"] <= 390
        seen.check()


def test_the_keyboards_pointer_takes_the_view_with_it(served, visit):
    """Arrows past the plane's edge move the view, so that the pointer stays in sight."""
    seen = visit(served["vae"])
    seen.part("overlay").focus()
    for _ in range(40):
        seen.page.keyboard.press("Shift+ArrowRight")
    hover = seen.state("hover")
    x, y = seen.state(f"planeToScreen({hover['u']}, {hover['v']})")
    width = seen.plane_box()["width"]
    assert width - 17 <= x <= width - 15 and 0 < y < width
    seen.page.keyboard.press("0")  # every code in view again, the pointer kept
    seen.check()


def test_the_controls_and_pictures_are_named_for_a_screen_reader(served, visit):
    seen = visit(served["vae5"])
    page = seen.page
    page.select_option(".plane-kind", "dims")
    for name, select in (("horizontal", "axis-u"), ("vertical", "axis-v")):  # each its own
        assert page.get_by_role("combobox", name=name).evaluate("e => e.className") == select
    slider = page.get_by_role("slider", name="z3")
    assert slider.get_attribute("aria-valuetext") == slider.evaluate(
        "e => e.nextElementSibling.textContent")
    slider.fill(slider.get_attribute("max"))
    assert slider.get_attribute("aria-valuetext") == slider.evaluate(
        "e => e.nextElementSibling.textContent") != "0.00"
    for heading in ("The other coordinates", "Draw", "The decoder at the pointer"):
        assert page.get_by_role("heading", name=heading, exact=True).count() == 1
    for name in ("The image the decoder makes of the code at the pointer", "Drawing pad",
                 "reconstruction of the drawing", "between the two picks", "animated"):
        assert page.get_by_role("img", name=name, include_hidden=True).count() == 1, name
    # each of a table's rows named by its first cell, which a screen reader reads with a cell
    for row in ("model", "epochs", "loss", "reconstruction"):
        assert page.get_by_role("rowheader", name=row, exact=True).count() == 1, row
    seen.check()


def test_the_decoded_image_over_the_plane_leaves_the_axes_numbers_and_the_pointer_free(
        served, visit):
    """Where the decoder's section is out of sight (here, below a narrow window), the image
    at the pointer stands in a corner of the plane: never over the pointer or a number."""
    seen = visit(served["vae"])
    box = _narrowed(seen, 560, 900)
    seen.part("overlay").scroll_into_view_if_needed()
    box = seen.plane_box()
    corners = set()
    for x, y in ((0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8), (0.55, 0.45)):
        seen.page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        inset = seen.part("inset").bounding_box()
        assert inset is not None, "no image over the plane"
        left, top = inset["x"] - box["x"], inset["y"] - box["y"]
        corners.add((round(left), round(top)))
        right, bottom = left + inset["width"], top + inset["height"]
        assert not (left <= x * box["width"] <= right and top <= y * box["height"] <= bottom)
        for text, tx, ty, tw in seen.state("ticks"):  # ty: the number's baseline
            assert tx + tw < left or tx > right or ty < top or ty - 11 > bottom, text
    assert len(corners) == 2
    seen.check()


def test_enlarged_images_are_whole_number_scales(served, visit):
    seen = visit(served["vae"])
    box = seen.plane_box()
    for x, y in ((90, 90), (500, 480)):  # the interpolation shows
        seen.page.mouse.click(box["x"] + x, box["y"] + y)
    scales = seen.page.evaluate("""[...document.querySelectorAll('canvas.pixels:not(.inset)')].map(
        (c) => [c.classList[0], c.clientWidth / c.width, c.clientHeight / c.height])""")
    assert {name: (x, y) for name, x, y in scales} == {
        "decoded": (10, 10), "draw": (6, 6), "recon": (6, 6), "strip": (3, 3),
        "animation": (6, 6)}
    seen.check()


def _narrowed(seen, width: int, height: int) -> dict:
    """The page in a window of ``width`` x ``height``, once its plane has shrunk: no sideways
    scrolling; the plane's box."""
    seen.page.set_viewport_size({"width": width, "height": height})
    seen.page.wait_for_function("document.querySelector('.overlay').clientWidth < 592")
    assert seen.page.evaluate("document.documentElement.scrollWidth") <= width
    return seen.plane_box()


def test_a_window_under_1200_px_keeps_the_decoder_beside_a_smaller_plane(served, visit):
    seen = visit(served["vae"])
    box = _narrowed(seen, 900, 800)
    decoder = seen.page.locator(".decoder-section").bounding_box()
    assert decoder["x"] > box["x"] + box["width"] and decoder["y"] < box["y"] + box["height"]
    assert decoder["y"] + decoder["height"] <= 800, "the decoder is below the window's fold"
    interpolation = seen.page.locator(".interp-section").bounding_box()
    assert interpolation["y"] > box["y"] + box["height"], "the interpolation is not below"
    seen.check()


def test_a_narrow_window_gets_one_column_and_a_smaller_plane(runs, served, visit):
    seen = visit(served["vae"])
    box = _narrowed(seen, 560, 900)
    aside = seen.page.locator("aside").bounding_box()
    assert aside["y"] > box["y"] + box["height"], "the aside is not below the plane"
    seen.zoom_out()
    z, shown = seen.hover(box["width"] * 0.2, box["height"] * 0.7)
    assert np.abs(shown - paper(runs["vae"], z)).max() <= 1
    seen.check()


def _copy_run(run, folder: Path):
    shutil.copytree(run.path, folder)
    return load_run(folder)


def test_the_page_loads_whatever_the_run_is_named_and_with_nan_metrics(runs, tiny, visit,
                                                                         tmp_path):
    run = _copy_run(runs["vae"], tmp_path / "odd<!--<script>&")
    (run.path / "metrics.jsonl").write_text(
        (run.path / "metrics.jsonl").read_text().replace('"loss": ', '"loss": NaN, "was": ', 1))
    seen = visit(export_explorer(load_run(run.path), tmp_path / "page.html", data=tiny).as_uri())
    assert seen.page.title() == "vaelab explorer: odd<!--<script>&"
    assert "—" in seen.part("metrics-table").inner_text()
    seen.check()


def test_an_aes_last_epoch_has_no_row_of_a_kl_it_does_not_have(served, visit):
    """Its table said 'KL — —' under its loss and reconstruction."""
    for name, rows in (("ae", ["loss", "reconstruction"]), ("vae", ["loss", "reconstruction",
                                                                    "KL"])):
        seen = visit(served[name])
        table = seen.part("metrics-table")
        assert [row.split("\t")[0] for row in table.inner_text().splitlines()[2:]] == rows, name
        seen.check()


def test_the_settings_name_adams_epsilon_the_schedule_and_the_bias_when_not_the_defaults(
        runs, tiny, visit, tmp_path):
    plain = visit(export_explorer(runs["vae"], tmp_path / "plain.html", data=tiny).as_uri())
    shown = plain.part("config-table").inner_text()
    assert not [word for word in ("Adam", "schedule", "bias") if word in shown], shown
    run = _copy_run(runs["vae"], tmp_path / "paper")
    raw = json.loads((run.path / "config.json").read_text())
    raw["train"].update(adam_eps=1e-4, lr_schedule="iwae", output_bias="data-mean")
    (run.path / "config.json").write_text(json.dumps(raw))
    seen = visit(export_explorer(load_run(run.path), tmp_path / "page.html", data=tiny).as_uri())
    table = seen.part("config-table").inner_text()
    assert "Adam's ε\t0.0001" in table and "learning-rate schedule\tiwae" in table
    assert "decoder's output bias\tstarts at the training images' mean" in table
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
    assert seen.part("drawn-z").inner_text().startswith("Draw a digit with the mouse.")
    seen.draw()
    drawn = page.evaluate("window.explorer.drawn")
    pixels = torch.tensor(drawn["pixels"]).reshape(1, 1, 28, 28)
    assert 20 < (pixels > 0.5).sum() < 200
    pad = seen.rgba("draw")  # MNIST's drawing is ink on paper, like its figures
    assert pad[0, 0, :3].tolist() == [255, 255, 255] and pad[:, :, 0].min() == 0
    with torch.inference_mode():
        code = in_page(runs[name].model).encode(pixels)
    if name == "vae":
        torch.testing.assert_close(torch.tensor(drawn["mean"]), code.mean[0],
                                   atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(torch.tensor(drawn["std"]), code.std[0],
                                   atol=1e-4, rtol=1e-4)
    else:
        torch.testing.assert_close(torch.tensor(drawn["mean"]), code[0], atol=1e-4, rtol=1e-4)
        assert drawn["std"] is None
    x, y = page.evaluate("window.explorer.toScreen(window.explorer.drawn.mean)")
    assert 0 <= x < 592 and 0 <= y < 592, "the drawing lands off the plane shown"
    ratio = page.evaluate("window.devicePixelRatio")
    alpha = seen.rgba("overlay", round(x * ratio), round(y * ratio), 1, 1)[0, 0, 3]
    assert alpha > 0, "no marker where the drawing's code is"
    assert np.abs(seen.pixels("recon") - paper(runs[name], drawn["mean"])).max() <= 1
    if name == "vae":
        shot = artifacts(tmp_path) / "explorer.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    seen.check()


def test_sliders_set_the_other_coordinates(runs, served, visit):
    seen = visit(served["vae5"])
    page = seen.page
    sliders = page.locator(".sliders input[type=range]")
    assert [s.get_attribute("data-name") for s in sliders.all()] == ["PC 3", "PC 4", "PC 5"]
    seen.zoom_out()
    z_before, shown_before = seen.hover(300, 300)
    sliders.nth(0).fill(sliders.nth(0).get_attribute("max"))
    z_after = page.evaluate("window.explorer.hover.z")
    shown_after = seen.pixels("decoded")
    assert z_after != z_before
    assert np.abs(shown_after - paper(runs["vae5"], z_after)).max() <= 1
    assert np.abs(shown_after - shown_before).max() > 0
    page.select_option(".plane-kind", "dims")
    assert float(sliders.nth(0).get_attribute("min")) <= -3  # the prior's -3 std, for a VAE
    assert float(sliders.nth(0).get_attribute("max")) >= 3
    page.select_option(".axis-u", "2")
    names = [s.get_attribute("data-name") for s in sliders.all()]
    assert names == ["z1", "z4", "z5"]  # the plane is (z3, z2)
    page.select_option(".axis-v", "2")  # the horizontal's own: the two swap
    assert [page.input_value(".axis-u"), page.input_value(".axis-v")] == ["1", "2"]
    assert seen.part("axes-caption").inner_text().startswith("Horizontal: z2; vertical: z3.")
    assert [s.get_attribute("data-name") for s in sliders.all()] == ["z1", "z4", "z5"]
    seen.check()


def test_the_exported_file_works_from_disk_without_a_server(runs, tiny, visit, tmp_path):
    path = export_explorer(runs["ae"], tmp_path / "ae.html", data=tiny)
    seen = visit(path.as_uri())
    z, shown = seen.hover(250, 250)
    assert np.abs(shown - paper(runs["ae"], z)).max() <= 1
    assert all(url.startswith("file://") for url in seen.requests)
    seen.check()


def test_the_page_shows_the_runs_evaluation(runs, tiny, visit, tmp_path):
    folder = shutil.copytree(runs["vae"].path, tmp_path / "measured")
    card = Scorecard(run=str(folder), model="vae", latent_dims=2, epochs=1, split="test",
                     images=128, k=50, samples=10, seed=0,
                     likelihood={"name": "sse", "description": "test"}, classifier=None,
                     metrics={"nll": Score(97.25, 0.5)})
    (folder / "eval.json").write_text(json.dumps(card.to_dict()))
    seen = visit(export_explorer(load_run(folder), tmp_path / "page.html", data=tiny).as_uri())
    table = seen.part("eval-table").inner_text()
    assert "NLL, importance-weighted bound, k = 50 (nats)" in table and "97.25 ± 0.50" in table
    seen.check()


def test_a_request_to_another_host_is_blocked_and_fails_the_check(visit, tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text('<!doctype html><img src="http://example.com/pixel.png">')
    seen = visit(page.as_uri(), ready=False)
    seen.page.wait_for_load_state("load")
    assert "http://example.com/pixel.png" in seen.requests
    assert seen.page.evaluate("document.images[0].naturalWidth") == 0  # it never arrived
    # The blocked image is also a console error, which check() would fail on first: the
    # request alone must fail it too
    assert all("ERR_BLOCKED_BY_CLIENT" in error for error in seen.errors), seen.errors
    seen.errors.clear()
    with pytest.raises(AssertionError, match=r"example\.com/pixel\.png"):
        seen.check()


def test_a_run_pages_animation_gives_way_to_a_link_where_less_motion_is_asked(runs, tiny, visit,
                                                                              tmp_path):
    folder = shutil.copytree(runs["vae"].path, tmp_path / "paged")
    run = load_run(folder)
    write_run_figures(run, tiny)
    seen = visit(write_run_page(run).as_uri(), ready=False)
    seen.page.wait_for_load_state("load")
    animation = seen.page.locator("img[src='figures/interpolation.gif']")
    still = seen.page.locator(".still")
    assert animation.is_visible() and still.is_hidden()
    assert seen.page.evaluate("document.querySelector(\"img[src$='.gif']\").naturalWidth") > 0
    seen.page.emulate_media(reduced_motion="reduce")
    assert animation.is_hidden() and still.is_visible()
    assert still.locator("a").get_attribute("href") == "figures/interpolation.gif"
    seen.check()


def test_a_printed_page_keeps_headings_with_their_figures_and_leaves_out_the_animation(
        tiny, visit, tmp_path):
    """Printed to A4, a page split headings from their figures, squeezed two runs' figures
    into columns (their text about 4.5 pt) and printed the animation as its first frame."""
    from vaelab.pictures.report import write_report

    config = RunConfig(train=TrainConfig(epochs=1, batch_size=64))
    runs = [train(config, tmp_path / name, data=tiny, progress=False) for name in ("a", "b")]
    for run in runs:
        write_run_figures(run, tiny)
    seen = visit(write_report(runs, tmp_path / "index.html", title="two").as_uri(), ready=False)
    page = seen.page
    page.wait_for_load_state("load")
    moving = page.locator("section.moving")
    assert moving.count() == 1 and moving.is_visible()  # on a screen the animation plays
    page.emulate_media(media="print")
    assert not moving.is_visible()
    figures = page.locator("section .runs").first.locator("figure")
    first, second = (figures.nth(i).bounding_box() for i in range(2))
    assert first["x"] == second["x"] and second["y"] >= first["y"] + first["height"]  # stacked
    for selector in ("h2", "section > p", "figcaption"):
        assert page.locator(selector).first.evaluate("e => getComputedStyle(e).breakAfter") \
            == "avoid", selector
    assert figures.first.evaluate("e => getComputedStyle(e).breakInside") == "avoid"
    # Its footer printed alone on a last sheet, and a table's first row alone at a page's foot
    end = page.locator("main > .end")
    assert [end.count(), end.locator("> section").count(), end.locator("> footer").count()] \
        == [1, 1, 1] and page.locator("main > :last-child").evaluate("e => e.className") == "end"
    for kept in (end, page.locator("table").first):
        assert kept.evaluate("e => getComputedStyle(e).breakInside") == "avoid"


def test_a_run_pages_metrics_fit_a_narrow_window_with_their_notes_under_their_figures(
        tiny, visit, tmp_path):
    """At 400 px the table's cells kept on one line pushed a β-VAE's figures out of sight, its
    notes ('at β = 1; trained with β warming up to 4') widening their column."""
    config = RunConfig(train=TrainConfig(epochs=1, batch_size=64, beta=4, kl_warmup=3,
                                         kl="tutorial"))
    run = train(config, tmp_path / "beta", data=tiny, progress=False)
    seen = visit(write_run_page(run).as_uri(), ready=False)
    seen.page.wait_for_load_state("load")
    seen.page.set_viewport_size({"width": 400, "height": 900})
    table = seen.page.locator("table").first
    assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")
    notes = table.locator(".aside")
    assert notes.count() == 6  # the model's settings, its likelihood's option, the two
    # losses' and the two KLs'
    assert "(at β = 1; trained with β warming up to 4)" in table.inner_text()
    for i in range(notes.count()):  # each under its figure, whole and in the box
        box, cell = notes.nth(i).bounding_box(), notes.nth(i).locator("..").bounding_box()
        assert notes.nth(i).evaluate("n => getComputedStyle(n).display") == "block"
        assert cell["x"] <= box["x"] and box["x"] + box["width"] <= cell["x"] + cell["width"]
    seen.page.set_viewport_size({"width": 1280, "height": 900})  # beside it where there is room
    assert notes.first.evaluate("n => getComputedStyle(n).display") == "inline"
    seen.check()
