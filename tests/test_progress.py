"""Progress: a tqdm bar on a terminal; anywhere else (CI, nohup, a file, a notebook) a few whole
lines, one per epoch or per stage, with no carriage return and no escape code."""

import io

import pytest
from tqdm import tqdm

from vaelab.config import ModelConfig, RunConfig, TrainConfig
from vaelab.progress import Lines, duration, loss_text, progress_bar


def _plain(text: str) -> list[str]:
    """The progress lines of ``text`` (leaving out vaelab's notes, which a command line run
    earlier in the session may have switched on), checked for redrawing characters."""
    assert "\r" not in text and "\x1b" not in text, repr(text[:200])
    return [line for line in text.splitlines() if not line.startswith("vaelab: ")]


def test_off_a_terminal_a_bar_is_one_line_when_it_is_done(capsys):
    with progress_bar(10_000, desc="NLL, k = 1000", unit="image") as bar:
        assert isinstance(bar, Lines)
        for _ in range(10):
            assert bar.update(1000) is False  # nothing redrawn, so nothing to sync
        bar.set_postfix_str("loss 1.0")
    err = capsys.readouterr().err
    _plain(err)
    assert err.startswith("NLL, k = 1000: 10,000 images in ") and err.endswith(" s\n")
    assert err.count("\n") == 1


def test_off_a_terminal_long_work_says_where_it_stands_after_half_a_minute(capsys,
                                                                          monkeypatch):
    """A quarter of an hour of evaluation (a conv VAE at k = 1000 on two cores) was silent in
    a log until it ended; now it says where it stands at 30 s, then every ten minutes."""
    import vaelab.progress as progress

    now = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    with progress_bar(10_000, desc="NLL, k = 1000", unit="image") as bar:
        for _ in range(100):  # 100 images every 3 s: 300 s in all
            now[0] += 3
            bar.update(100)
    with progress_bar(10, desc="quick", unit="image") as bar:
        bar.update(10)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["NLL, k = 1000: 1,000 of 10,000 images after 30 s; about 4 min 30 s more",
                     "NLL, k = 1000: 10,000 images in 5 min 0 s", "quick: 10 images in 0.0 s"]
    now[0] = 0.0
    with progress_bar(5, desc="x", unit="step", enabled=False) as bar:
        now[0] += 700
        bar.update(1)  # disabled: nothing, however long
    with progress_bar(0, desc="epoch", unit="image", summary=False) as bar:
        bar.reset(50)
        now[0] += 40
        bar.update(20)  # from the epoch's own start, not the bar's
        now[0] += 590
        bar.update(20)
        now[0] += 20
        bar.update(10)
    assert capsys.readouterr().err.splitlines() == [
        "epoch: 20 of 50 images after 40 s; about 60 s more",
        "epoch: 50 of 50 images after 10 min 50 s"]
    with progress_bar(60_000, desc="vae epoch 4/20", unit="image", summary=False) as bar:
        bar.initial = bar.n = 50_000  # a resumed epoch: done before, not at this pace
        now[0] += 30
        bar.update(600)
    assert capsys.readouterr().err.splitlines() == [
        "vae epoch 4/20: 50,600 of 60,000 images after 30 s; about 7 min 50 s more"]


def test_a_bar_left_by_an_error_claims_nothing_and_a_disabled_one_says_nothing(capsys):
    with pytest.raises(KeyboardInterrupt), progress_bar(5, desc="classifier", unit="step") as bar:
        bar.update(2)
        raise KeyboardInterrupt
    with progress_bar(5, desc="classifier", enabled=False) as bar:
        bar.update(5)
        bar.write("an epoch line")
    assert capsys.readouterr().err == ""


def test_on_a_terminal_it_is_tqdm_as_before(monkeypatch):
    monkeypatch.setattr("vaelab.progress.on_terminal", lambda: True)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    with progress_bar(3, desc="x", unit="img", leave=False) as bar:
        assert isinstance(bar, tqdm)
        bar.update(3)


def test_on_a_terminal_a_scaled_count_under_a_thousand_is_written_whole(monkeypatch):
    """tqdm writes 0 of 60,000 scaled as '0.00/60.0k' and 8 as '8.00'; vaelab's bar writes
    '0/60.0k', '8/60.0k', and from a thousand on as tqdm does ('1.28k/60.0k')."""
    monkeypatch.setattr("vaelab.progress.on_terminal", lambda: True)
    drawn = io.StringIO()
    with progress_bar(60_000, desc="vae epoch 1/2", unit="image", unit_scale=True, file=drawn,
                      ncols=100, mininterval=0) as bar:
        for n in (8, 120, 1152):
            bar.update(n)
    shown = [text.strip() for text in drawn.getvalue().split("\r") if text.strip()]
    assert list(dict.fromkeys(text.rsplit("| ", 1)[1].split(" [")[0] for text in shown)) == [
        "0/60.0k", "8/60.0k", "128/60.0k", "1.28k/60.0k"], shown
    assert shown[-1].endswith(" images/s]") and shown[0].startswith("vae epoch 1/2:   0%|")
    drawn = io.StringIO()  # a total under a thousand too: 8/60, not 8.00/60.0
    with progress_bar(60, unit="image", unit_scale=True, file=drawn, ncols=100,
                      mininterval=0) as bar:
        bar.update(8)
    assert "| 8/60 [" in drawn.getvalue() and "60.0" not in drawn.getvalue()


def test_a_stream_without_isatty_is_not_a_terminal(monkeypatch):
    from vaelab.progress import on_terminal

    monkeypatch.setattr("sys.stderr", object())
    assert on_terminal() is False


@pytest.mark.parametrize(("seconds", "text"), [(0.42, "0.4 s"), (3.14, "3.1 s"), (41.2, "41 s"),
                                               (125, "2 min 5 s")])
def test_durations_read_as_people_write_them(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(("value", "text"), [(38.014, "  38.01"), (1234567.891, "1234567.89"),
                                             (3.7e32, "3.7e+32"), (-2.5e9, "-2.5e+09")])
def test_a_loss_that_blows_up_is_a_short_number_not_thirty_digits(value, text):
    assert loss_text(value) == text


def test_training_off_a_terminal_writes_one_line_per_epoch(tiny, tmp_path, capsys):
    from vaelab.training.loop import train

    config = RunConfig(ModelConfig(model="vae", hidden_dims=(32,)),
                       train=TrainConfig(epochs=2, batch_size=64))
    train(config, tmp_path / "run", data=tiny, progress=True)
    lines = _plain(capsys.readouterr().err)
    assert [line.split("  ")[0] for line in lines] == ["run epoch 1/2", "run epoch 2/2"]
    assert all(" loss " in line and " test " in line and line.endswith(" s)") for line in lines)


def test_a_posterior_that_collapsed_is_told_when_training_ends(tiny, tmp_path, caplog):
    from vaelab.training.loop import train

    for beta, told in ((1.0, False), (500.0, True)):  # a heavy KL squeezes the codes to nothing
        caplog.clear()
        config = RunConfig(ModelConfig(model="vae", hidden_dims=(32,)),
                           train=TrainConfig(epochs=2, batch_size=64, beta=beta))
        run = train(config, tmp_path / f"beta{beta:g}", data=tiny, progress=False)
        said = [r.getMessage() for r in caplog.records if "collapsed" in r.getMessage()]
        assert (run.metrics[-1]["test"]["kl"] < 0.1) == told, run.metrics[-1]["test"]
        assert len(said) == told and all(m.startswith(f"{run.path}: the test KL is ")
                                         for m in said)
        # What to try: a KL warm-up, a longer one where the run had one, a smaller β
        assert all(m.endswith("train longer, or with kl_warmup or a smaller beta")
                   for m in said)
    from vaelab.training.checks import say_if_collapsed

    caplog.clear()
    say_if_collapsed(tmp_path, run.metrics, TrainConfig(kl_warmup=5))
    assert caplog.records[-1].getMessage().endswith("train longer, or with a longer kl_warmup")


def test_evaluation_and_the_classifier_off_a_terminal_say_one_line_each(tiny, tmp_path, capsys,
                                                                       monkeypatch):
    from vaelab.measuring.classifier import train_judge
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.training.loop import train

    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: tmp_path / "cache")
    run = train(RunConfig(ModelConfig(hidden_dims=(32,)), train=TrainConfig(epochs=1)),
                tmp_path / "run", data=tiny, progress=False)
    judge = train_judge(tiny, epochs=1, progress=True)
    evaluate_run(run, tiny, k=4, samples=2, judge=judge, save=False, progress=True)
    lines = _plain(capsys.readouterr().err)
    steps = -(-len(tiny.train_images) // 128)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"classifier: {steps} steps in ")
    assert lines[1].startswith(f"NLL, k = 4: {len(tiny.test_images)} images in ")


def test_a_warning_while_bars_are_drawn_goes_above_them_not_into_one(monkeypatch):
    import logging

    from vaelab.cli import _log_to_stderr

    screen = io.StringIO()
    monkeypatch.setattr("sys.stderr", screen)
    log = logging.getLogger("vaelab")
    for name in ("handlers", "propagate", "level"):  # given back as they were, after
        monkeypatch.setattr(log, name, getattr(log, name))
    log.handlers = []
    _log_to_stderr(quiet=False)
    with tqdm(total=10, file=screen, desc="vae epoch 1/2") as bar:
        bar.update(3)
        before = len(screen.getvalue())
        log.warning("Ctrl-C: stopping after this step")
        written = screen.getvalue()[before:]
    # The bar is wiped from its line first, so the warning starts a line of its own, and the
    # bar is drawn again below it.
    wiped, _, after = written.partition("vaelab: Ctrl-C: stopping after this step\n")
    assert wiped.startswith("\r") and wiped.strip() == "" and "vae epoch 1/2" in after


def test_a_bars_loss_is_the_mean_of_the_images_in_its_sums_a_resumed_epochs_too(tiny):
    """It divided rank 0's sums by its share of the batch counted as B / processes: with three
    images a batch on two processes rank 0 takes one, and the bar showed 2/3 of its loss."""
    import threading

    import torch

    from vaelab.distributed import World
    from vaelab.models import build_model
    from vaelab.training.epoch import Stopped, train_epoch

    class Bar:  # redraws at every step, as a terminal's would at times
        def __init__(self, stop_after: int | None = None) -> None:
            self.shown, self.steps, self.stop_after = [], 0, stop_after
            self.stop = threading.Event()

        def update(self, n: int) -> bool:
            self.steps += 1
            if self.steps == self.stop_after:
                self.stop.set()
            return True

        def set_postfix_str(self, text: str, refresh: bool = False) -> None:
            self.shown.append(text)

    class Ballot:  # every process votes as this one: nothing to gather
        def cast(self, *votes: bool) -> tuple[bool, ...]:
            return votes

        def close(self) -> None:
            pass

    class FirstOfTwo(World):  # rank 0 of two, its sums its own (the other's are not added)
        def ballot(self, n: int) -> Ballot:
            return Ballot()

        def sum(self, tensor: torch.Tensor) -> torch.Tensor:
            return tensor

    class Step:  # a loss of 2 nats an image, of the images this process takes
        world = FirstOfTwo(rank=0, size=2)

        def __call__(self, x_rows, inputs, y, eps, kl_weight) -> torch.Tensor:
            return torch.tensor([2.0, 2.0, 0.0], dtype=torch.float64) * len(x_rows)

    config = TrainConfig(batch_size=3)
    images = tiny.train_images[:30]
    model = build_model(ModelConfig(hidden_dims=(16,)), tiny.image_shape)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    first = Bar(stop_after=4)
    with pytest.raises(Stopped) as stopped:
        train_epoch(model, optimizer, images, config, generator, bar=first, stop=first.stop,
                    step=Step())
    progress = stopped.value.progress  # a checkpoint's sums are every process's: as if two
    progress.totals = progress.totals * 3  # had taken the other two images of each batch
    rest = Bar()
    train_epoch(model, optimizer, images, config, generator, bar=rest, progress=progress,
                step=Step())
    assert set(first.shown) == set(rest.shown) == {f"loss {loss_text(2.0, 0)}"}
    assert len(first.shown) == 4 and len(rest.shown) == 6
    # One image a batch: rank 0 takes none, so its bar has no loss to show (not 0.00); the
    # epoch's own line, of every process's sums, has
    none = Bar()
    train_epoch(model, optimizer, images, TrainConfig(batch_size=1), generator, bar=none,
                step=Step())
    assert none.steps == 30 and none.shown == []


def test_a_scripts_warnings_are_named_and_said_once_where_it_set_up_logging():
    """From the Python API, a warning was a bare line on stderr ('3000 training images at
    batch 128 make ...'): where the script has set up no logging it is a 'vaelab: ...' line;
    where it has, it goes there alone."""
    import subprocess
    import sys

    warn = ("from vaelab.config import TrainConfig\n"
            "from vaelab.training.checks import note_few_steps\n"
            "note_few_steps(TrainConfig(epochs=1), 100)\n")
    said = "100 training images at batch 128 make 1 step an epoch, 1 in all"
    mine = "logging.StreamHandler(); handler.setFormatter(logging.Formatter('mine: %(message)s'))"
    for setup, line in (
            ("", f"vaelab: {said}"),
            ("logging.basicConfig(format='mine: %(message)s')", f"mine: {said}"),
            (f"handler = {mine}; logging.getLogger('vaelab').addHandler(handler)",
             f"mine: {said}"),
            ("logging.basicConfig(); logging.getLogger('vaelab').propagate = False",
             f"vaelab: {said}"),
            ("import importlib; importlib.reload(vaelab)", f"vaelab: {said}")):  # one, not two
        script = f"import logging, vaelab\n{setup}\n{warn}"
        err = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True).stderr
        assert err.count("\n") == 1 and err.startswith(line), (setup, err)
    script = f"import sys, vaelab\nsys.stderr = None\n{warn}print('went on')"
    ended = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ended.returncode == 0 and ended.stdout == "went on\n"  # pythonw: no stderr, and no crash


def test_a_line_said_while_a_bar_is_drawn_goes_above_it(capsys):
    """Where tqdm draws a bar, a warning is not written onto the end of its line."""
    import sys

    from vaelab.progress import say

    bar = tqdm(total=10, file=sys.stderr, desc="run epoch 1/2", ncols=60)
    bar.update(4)
    say("vaelab: stopping after this step")
    bar.close()
    err = capsys.readouterr().err
    assert "\rvaelab: stopping after this step\n" in err and "]vaelab" not in err


def test_restart_names_the_next_pass_and_leaves_no_loss_of_the_last():
    from vaelab.progress import restart

    shown = io.StringIO()
    bar = tqdm(total=100, file=shown, desc="run epoch 1/2", ncols=100, mininterval=0)
    bar.update(100)
    bar.set_postfix_str("loss 56.72")
    restart(bar, 100, "run epoch 2/2")
    last = shown.getvalue().split("\r")[-1]
    assert last.startswith("run epoch 2/2:   0%") and "loss" not in last, last
    lines = Lines(100, desc="a")
    restart(lines, 50, "b")
    assert (lines.desc, lines.total, lines.n) == ("b", 50, 0)
