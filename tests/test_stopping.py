"""Faults lose nothing: Ctrl-C and SIGTERM stop after the step with a checkpoint, a kill -9 at
any moment leaves a checkpoint that loads and a run that resumes bitwise, a full disk is one
line and leaves the previous checkpoint whole, a diverging run stops before it saves NaNs."""

from __future__ import annotations

import dataclasses
import errno
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import mnist_folder, patch_loss_terms
from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.errors import VaelabError
from vaelab.training import jobs as jobs_module
from vaelab.training import step as step_module
from vaelab.training.checkpoints import load_checkpoint
from vaelab.training.jobs import initial_state
from vaelab.training.loop import resume, train
from vaelab.training.runs import load_run, read_metrics
from vaelab.training.stopping import TWIN, Cadence, Interrupted

STEPS = 8  # an epoch of 256 images in batches of 32


def _again(number: int) -> None:
    """The signal again, as a hand sends it: later than a launcher passes the first on (a
    signal twice within TWIN is that one twice)."""
    time.sleep(2 * TWIN)
    signal.raise_signal(number)


def _config(epochs: int = 3, **train: object) -> RunConfig:
    return RunConfig(ModelConfig("vae", 2, (32,)), DataConfig(train_subset=256),
                     TrainConfig(epochs=epochs, batch_size=32, **train))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(path / "model.safetensors")


def _assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]


def _at_step(monkeypatch, step: int, act) -> None:
    """Call ``act()`` in training step number ``step`` (from 1), before the step's work."""
    calls, real = {"n": 0}, step_module.loss_terms

    def patched(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            act()
        return real(*args, **kwargs)

    patch_loss_terms(monkeypatch, patched)


def _unfinished(path: Path):
    config = RunConfig.load(path / "config.json")
    model, optimizer, generator = initial_state(config, torch.device("cpu"))
    return load_checkpoint(path / "checkpoint.safetensors", model, optimizer, generator)


@pytest.fixture
def terminal_signals():
    """SIGINT and SIGTERM as a process in a terminal has them, whatever the suite was started
    with (under nohup SIGINT is ignored, and vaelab leaves an ignored signal so)."""
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for number, handler in previous.items():
        signal.signal(number, handler)


@pytest.fixture(scope="module")
def full(tiny, tmp_path_factory):
    return train(_config(), tmp_path_factory.mktemp("full") / "run", data=tiny, progress=False)


@pytest.mark.parametrize(("signal_number", "code"), [(signal.SIGINT, 130),
                                                     (signal.SIGTERM, 143)])
def test_a_signal_stops_after_the_step_with_a_checkpoint_and_resumes_bitwise(
        tiny, tmp_path, monkeypatch, full, signal_number, code, caplog, terminal_signals):
    _at_step(monkeypatch, STEPS + 3, lambda: signal.raise_signal(signal_number))
    with pytest.raises(Interrupted) as info:
        train(_config(), tmp_path / "run", data=tiny, progress=False)
    assert info.value.code == code
    monkeypatch.undo()
    restored = _unfinished(tmp_path / "run")
    assert restored.epoch == 1 and restored.unfinished.epoch == 2
    assert restored.unfinished.steps == 3  # the step the signal came in was finished
    assert restored.unfinished.seconds > 0  # the epoch's time so far is kept with it
    assert "stopped in epoch 2 after 3 of its steps" in caplog.text
    # a script's run names the call that goes on, as Python spells it (in a notebook too)
    assert f"go on with: vaelab.resume({str(tmp_path / 'run')!r})\n" in caplog.text + "\n"
    if signal_number == signal.SIGINT:
        assert "interrupted (Ctrl-C, or a notebook's stop): stopping after this step, with a " \
               "checkpoint (again stops at once)" in caplog.text
    done = resume(tmp_path / "run", data=tiny, progress=False)
    assert done.epochs_done == 3
    _assert_bitwise_equal(_weights(full.path), _weights(tmp_path / "run"))
    # The stopped epoch's training losses too: its sums so far went on from the checkpoint
    for mine, theirs in zip(read_metrics(tmp_path / "run"), read_metrics(full.path), strict=True):
        assert mine["train"] == pytest.approx(theirs["train"], rel=1e-6)
        assert mine["test"] == theirs["test"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_stop_from_python_names_the_call_with_the_data_dir_it_was_given(
        tiny, tmp_path, monkeypatch, caplog, terminal_signals):
    """A run started with data_dir= was told to go on with vaelab.resume('RUN'), which then
    looked for its images in the default places alone."""
    _at_step(monkeypatch, STEPS + 3, lambda: signal.raise_signal(signal.SIGINT))
    with caplog.at_level("WARNING", logger="vaelab"), pytest.raises(Interrupted):
        train(_config(), tmp_path / "run", data=tiny, data_dir=tmp_path / "my data",
              progress=False)
    assert (f"go on with: vaelab.resume({str(tmp_path / 'run')!r}, "
            f"data_dir={str(tmp_path / 'my data')!r})") in caplog.text


def test_an_epoch_stopped_and_resumed_with_other_threads_says_so_and_records_both(
        tiny, tmp_path, monkeypatch, caplog, terminal_signals):
    """A run stopped in its first epoch and resumed in other processes or threads said
    nothing, and the epoch's record named only those of its end, not those its first part
    trained in: the note and the record read only finished epochs."""
    threads = torch.get_num_threads()
    _at_step(monkeypatch, 3, lambda: signal.raise_signal(signal.SIGTERM))
    with pytest.raises(Interrupted):
        train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    monkeypatch.undo()
    assert _unfinished(tmp_path / "run").unfinished.computed_in == ((1, threads),)
    torch.set_num_threads(threads + 1)
    try:
        with caplog.at_level("WARNING", logger="vaelab"):
            done = resume(tmp_path / "run", data=tiny, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert (f"{tmp_path / 'run'}: the part of its epoch so far trained in 1 process of "
            f"{threads} thread{'s' * (threads != 1)}, and it goes on in 1 process of "
            f"{threads + 1} threads: its weights may differ") in caplog.text
    record = done.metrics[-1]
    assert (record["processes"], record["threads"]) == (1, threads + 1)  # at its end
    assert record["computed_in"] == [[1, threads], [1, threads + 1]]
    assert read_metrics(tmp_path / "run")[-1]["computed_in"] == record["computed_in"]
    # Stopped in an epoch's last step, or resumed and stopped again before a step, the next
    # epoch has no part trained yet: it records none, and a resume with other threads goes
    # by the epoch before it
    _at_step(monkeypatch, STEPS, lambda: signal.raise_signal(signal.SIGTERM))
    with pytest.raises(Interrupted):
        train(_config(epochs=2), tmp_path / "edge", data=tiny, progress=False)
    monkeypatch.undo()
    assert _unfinished(tmp_path / "edge").unfinished.steps == 0
    assert _unfinished(tmp_path / "edge").unfinished.computed_in == ()
    torch.set_num_threads(threads + 1)
    try:
        caplog.clear()
        with caplog.at_level("WARNING", logger="vaelab"):
            done = resume(tmp_path / "edge", data=tiny, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert "its last epoch trained in 1 process of" in caplog.text
    assert "computed_in" not in done.metrics[-1] and done.metrics[-1]["threads"] == threads + 1


def test_a_signal_in_an_epochs_last_step_stops_after_that_epoch(tiny, tmp_path, monkeypatch,
                                                                caplog, terminal_signals):
    """Stopped before the next epoch's first step, a run says which epoch it finished, not
    'in epoch 2 after 0 of its steps'."""
    _at_step(monkeypatch, STEPS, lambda: signal.raise_signal(signal.SIGTERM))
    with pytest.raises(Interrupted):
        train(_config(), tmp_path / "run", data=tiny, progress=False)
    assert "stopped after epoch 1, all saved" in caplog.text
    assert "of its steps" not in caplog.text
    assert _unfinished(tmp_path / "run").epoch == 1


def test_a_stopped_run_says_where_it_stands_as_the_user_counts():
    from vaelab.training.epoch import EpochProgress
    from vaelab.training.stopping import where as _where

    order = torch.arange(4)
    assert _where(EpochProgress(4, order, steps=120)) == "in epoch 4 after 120 of its steps"
    assert _where(EpochProgress(4, order)) == "after epoch 3"
    assert _where(EpochProgress(1, order)) == "before any step"


def test_the_command_line_says_how_to_go_on_once(tiny, tmp_path, monkeypatch, capsys,
                                                 terminal_signals):
    """SIGTERM to `vaelab train`: the run's line (where it stopped, how to go on) and status
    143, without a second, vaguer line after it; its command works as it is pasted into a
    shell (the folder's name has a space) and goes on as the first one went."""
    from vaelab.cli import main

    monkeypatch.setenv("VAELAB_DATA", str(mnist_folder(tiny, tmp_path / "data")))
    _at_step(monkeypatch, STEPS + 3, lambda: signal.raise_signal(signal.SIGTERM))
    code = main(["train", "--model", "vae", "--hidden-dims", "32", "--train-subset", "256",
                 "--batch-size", "32", "--epochs", "3", "--no-plots", "-o",
                 str(tmp_path / "my run"), "--checkpoint-every", "5", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 143
    assert err.count("go on with:") == 1, err
    assert "interrupted" not in err, err
    command = err.split("go on with: ")[1].splitlines()[0]
    # the flags that the run does not keep go on with it: resumed, it draws no figures either
    assert command == (f"vaelab train --resume '{tmp_path / 'my run'}' --no-plots "
                       f"--checkpoint-every 5 --device cpu"), command  # as a shell takes it
    monkeypatch.undo()  # the step as it is, on the same data
    monkeypatch.setenv("VAELAB_DATA", str(tmp_path / "data"))
    assert main(shlex.split(command)[1:]) == 0
    assert len(read_metrics(tmp_path / "my run")) == 3
    assert not (tmp_path / "my run" / "figures").exists()
    assert not (tmp_path / "my run" / "index.html").exists()


def test_a_command_to_start_again_keeps_the_commands_own_flags(tmp_path, command_line_voice):
    """Before its first checkpoint, a run is started again in a new folder: with the flags
    that its command was given and its config does not keep, and the demo's own command."""
    from vaelab.training.jobs import Job

    config = RunConfig()
    run = tmp_path / "it's a run"
    job = Job(run, config, *initial_state(config, torch.device("cpu")), flags=" --no-plots -q")
    assert shlex.split(job.again) == ["vaelab", "train", "--config", str(run), "-o", f"{run}-2",
                                      "--no-plots", "-q"]
    assert shlex.split(job.go_on) == ["vaelab", "train", "--resume", str(run), "--no-plots", "-q"]
    diverged = f"start it again with {job.again} and a smaller --lr than 0.001"
    assert diverged in str(job.diverged_at(1, float("nan")))
    job.go_on_with = "vaelab demo --resume demo"
    assert job.again == job.go_on == "vaelab demo --resume demo"
    # a run that diverged starts again with other settings, which the demo's command cannot take
    assert diverged in str(job.diverged_at(1, float("nan")))


def test_a_run_stopped_in_its_first_epoch_is_loaded_with_the_command_that_goes_on(
        tiny, tmp_path, monkeypatch, terminal_signals):
    """plot, eval and explore of a run stopped before its first epoch ended said that its
    weights were missing, and not how to go on."""
    _at_step(monkeypatch, 3, lambda: signal.raise_signal(signal.SIGTERM))
    with pytest.raises(Interrupted):
        train(_config(), tmp_path / "run", data=tiny, progress=False)
    with pytest.raises(VaelabError, match=r"model.safetensors: missing; the run has no finished "
                                          r"epoch \(it is still in its first, or it stopped "
                                          r"there\); vaelab.resume\('.*run'\) goes on with it$"):
        load_run(tmp_path / "run")


def test_the_python_api_takes_no_wording_of_the_command_line():
    """train, train_all and resume take no go_on or flags: the command line and the demo say
    what their stops' lines name with told_as, for the calls inside it alone."""
    import inspect

    import vaelab
    from vaelab.training.stopping import told, told_as

    for function in (vaelab.train, vaelab.train_all, vaelab.resume):
        assert not {"go_on", "flags"} & set(inspect.signature(function).parameters)
    with told_as(flags=" --no-plots"):
        assert told() == ("", " --no-plots")
    assert told() == ("", "")


def test_a_signal_ignored_from_the_start_stays_ignored(tiny, tmp_path, monkeypatch):
    """Under nohup, or in a shell's background job, SIGINT is ignored: vaelab leaves it so,
    and still stops on SIGTERM."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        seen = []
        _at_step(monkeypatch, STEPS + 3, lambda: seen.append(signal.getsignal(signal.SIGINT))
                 or signal.raise_signal(signal.SIGINT) or signal.raise_signal(signal.SIGTERM))
        with pytest.raises(Interrupted) as info:
            train(_config(), tmp_path / "run", data=tiny, progress=False)
        assert seen == [signal.SIG_IGN] and info.value.code == 143
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_second_signal_stops_at_once_and_the_checkpoint_stays_whole(tiny, tmp_path,
                                                                       monkeypatch,
                                                                       terminal_signals):
    def twice():
        signal.raise_signal(signal.SIGINT)
        _again(signal.SIGINT)

    _at_step(monkeypatch, STEPS + 5, twice)
    with pytest.raises(KeyboardInterrupt):
        train(_config(), tmp_path / "run", data=tiny, progress=False)
    # At once: the stop after the step would have written a checkpoint inside epoch 2
    restored = _unfinished(tmp_path / "run")
    assert restored.epoch == 1 and restored.unfinished is None  # the epoch-1 checkpoint, whole


@pytest.mark.parametrize("status", [130, 143])
def test_a_command_a_signal_ended_exits_at_once_whatever_thread_still_runs(status):
    """After a second Ctrl-C the demo waited, at Python's exit, for the run that was being
    measured beside the one stopped: a command whose status says a signal ended it (its
    main() stands in for it here) ends now, its files written atomically."""
    script = ("import threading, time, vaelab.cli as cli\n"
              "threading.Thread(target=time.sleep, args=(60,)).start()  # a run being measured\n"
              f"cli.main = lambda: {status}\n"
              "cli.run()\n")
    started = time.monotonic()
    ended = subprocess.run([sys.executable, "-c", script], timeout=50)
    assert ended.returncode == status and time.monotonic() - started < 30


def test_checkpoints_inside_epochs_survive_a_crash_and_resume_bitwise(tiny, tmp_path,
                                                                     monkeypatch, full):
    class PowerCut(Exception):
        pass

    def die():
        raise PowerCut

    _at_step(monkeypatch, 2 * STEPS + 6, die)  # in epoch 3, after its checkpoint at step 4
    with pytest.raises(PowerCut):
        train(_config(), tmp_path / "run", data=tiny, progress=False, checkpoint_every="2")
    monkeypatch.undo()
    restored = _unfinished(tmp_path / "run")
    assert (restored.epoch, restored.unfinished.epoch, restored.unfinished.steps) == (2, 3, 4)
    # Asked for the 2 epochs it has finished: the run is epoch 2's weights, not those inside
    # epoch 3 that the checkpoint holds, and the checkpoint stays for a later --epochs 3
    checkpoint = (tmp_path / "run" / "checkpoint.safetensors").read_bytes()
    two = resume(tmp_path / "run", epochs=2, data=tiny, progress=False)
    _assert_bitwise_equal(_weights(tmp_path / "run"), two.model.state_dict())
    assert (tmp_path / "run" / "checkpoint.safetensors").read_bytes() == checkpoint
    weights = tmp_path / "run" / "model.safetensors"  # lost: the checkpoint cannot give them
    kept = weights.read_bytes()
    weights.unlink()
    with pytest.raises(VaelabError, match=r"model.safetensors: missing or unreadable, and its "
                                          r"checkpoint is inside epoch 3, .* epochs=3 or more"):
        resume(tmp_path / "run", epochs=2, data=tiny, progress=False)
    weights.write_bytes(kept)
    resume(tmp_path / "run", epochs=3, data=tiny, progress=False, checkpoint_every="2")
    _assert_bitwise_equal(_weights(full.path), _weights(tmp_path / "run"))


def test_a_full_disk_is_one_line_and_leaves_the_previous_checkpoint(tiny, tmp_path,
                                                                     monkeypatch):
    run = train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    before = (run.path / "checkpoint.safetensors").read_bytes()

    def full_disk(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("vaelab.training.checkpoints.write_atomic", full_disk)
    with pytest.raises(VaelabError) as info:
        resume(run.path, epochs=2, data=tiny, progress=False)
    message = str(info.value)
    assert "could not write the checkpoint (No space left on device)" in message
    assert "\n" not in message and f"vaelab.resume({str(run.path)!r})" in message
    monkeypatch.undo()
    assert (run.path / "checkpoint.safetensors").read_bytes() == before
    assert resume(run.path, epochs=2, data=tiny, progress=False).epochs_done == 2


def _terms_changed(monkeypatch, when, change) -> None:
    """From a training step on which ``when(n)`` holds (n from 1), its terms are
    ``change(model, terms)`` instead of the real ones."""
    calls, real = {"n": 0}, step_module.loss_terms

    def changed(model, *args, **kwargs):
        calls["n"] += 1
        terms = real(model, *args, **kwargs)
        return change(model, terms) if when(calls["n"]) else terms

    patch_loss_terms(monkeypatch, changed)


def test_a_diverging_run_saves_no_nan_and_names_grad_clip(tiny, tmp_path, monkeypatch,
                                                          command_line_voice):
    _terms_changed(monkeypatch, lambda n: n > STEPS + 2,
                   lambda model, terms: type(terms)(terms.recon * float("nan"), terms.kl))
    with pytest.raises(VaelabError, match=r"diverged in epoch 2 \(the loss is nan\); its last "
                                          r"checkpoint before it \(after epoch 1\) is kept\. "
                                          r"Try a smaller --lr than 0\.001, or a --grad-clip "
                                          r"\(such as 1000\)$"):
        train(_config(), tmp_path / "run", data=tiny, progress=False, checkpoint_every="4")
    monkeypatch.undo()
    restored = _unfinished(tmp_path / "run")
    assert restored.epoch == 1 and restored.unfinished is None
    assert all(v.isfinite().all() for v in _weights(tmp_path / "run").values())


def test_a_loss_that_is_not_a_number_stops_the_run_within_a_few_steps(tiny, tmp_path,
                                                                     monkeypatch):
    """Training went on to the epoch's end, however long, before it looked at the loss."""
    calls = {"n": 0}
    real = step_module.loss_terms

    def counted(model, *args, **kwargs):
        calls["n"] += 1
        terms = real(model, *args, **kwargs)
        return type(terms)(terms.recon * float("nan"), terms.kl) if calls["n"] >= 3 else terms

    patch_loss_terms(monkeypatch, counted)
    from vaelab.training import epoch
    assert epoch.LOOK_EVERY == 50  # "within about 50 steps", as docs/reliability.md says
    monkeypatch.setattr(epoch, "LOOK_EVERY", 2)
    with pytest.raises(VaelabError, match=r"diverged in epoch 1 \(the loss is nan\)"):
        train(_config(), tmp_path / "run", data=tiny, progress=False)
    assert calls["n"] == 4 < STEPS  # seen at the look after step 4, not at step 8
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]


def test_weights_that_a_finite_loss_left_not_finite_are_never_saved(tiny, tmp_path,
                                                                     monkeypatch):
    def infinite_gradient(model, terms):  # a term worth 0 whose gradient is not a number
        zero = torch.sqrt(next(model.parameters()).sum() * 0.0)
        return type(terms)(terms.recon + zero, terms.kl)

    _terms_changed(monkeypatch, lambda n: n == STEPS + 2, infinite_gradient)
    with pytest.raises(VaelabError, match=r"diverged in epoch 2.*grad_clip"):  # from Python
        train(_config(), tmp_path / "run", data=tiny, progress=False, checkpoint_every="1")
    monkeypatch.undo()
    restored = _unfinished(tmp_path / "run")
    assert restored.epoch == 1 and restored.unfinished.steps == 1  # the last finite weights
    checkpoint = load_file(tmp_path / "run" / "checkpoint.safetensors")
    assert all(v.isfinite().all() for k, v in checkpoint.items() if v.is_floating_point())


def test_grad_clip_clips_each_steps_gradient_to_its_norm(tiny, tmp_path):
    """The gradient Adam is given has a global norm of at most --grad-clip, and exactly it
    where the step's own was larger (a summed loss's gradients are in the hundreds)."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    norms = []

    def given(optimizer, *_):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
        norms.append(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g) for g in grads if g is not None])).item())

    hook = register_optimizer_step_pre_hook(given)
    try:
        train(_config(epochs=1), tmp_path / "plain", data=tiny, progress=False)
        plain, norms[:] = list(norms), []
        train(_config(epochs=1, grad_clip=1.0), tmp_path / "clipped", data=tiny, progress=False)
    finally:
        hook.remove()
    assert len(norms) == len(plain) == STEPS and min(plain) > 10
    assert norms == pytest.approx([1.0] * STEPS, rel=1e-4)


def test_a_checkpoint_of_a_newer_vaelab_is_refused(tiny, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    run = train(_config(epochs=1), tmp_path / "run", data=tiny, progress=False)
    path = run.path / "checkpoint.safetensors"
    with safe_open(path, "pt") as f:
        metadata = {**f.metadata(), "format": "99"}
    save_file(load_file(path), path, metadata=metadata)
    with pytest.raises(VaelabError, match="written by a newer vaelab"):
        resume(run.path, epochs=2, data=tiny, progress=False)


@pytest.mark.parametrize(("text", "cadence"), [
    ("500", Cadence(steps=500)), ("10m", Cadence(seconds=600)), ("30s", Cadence(seconds=30)),
    ("2h", Cadence(seconds=7200)), ("10min", Cadence(seconds=600)), ("epoch", Cadence()),
    (None, Cadence()), ("0", Cadence()), ("0s", Cadence()), ("0m", Cadence())])
def test_checkpoint_every_reads_steps_minutes_and_seconds(text, cadence):
    assert Cadence.parse(text) == cadence


@pytest.mark.parametrize("text", ["often", "-3", "5d", "1.5m"])
def test_a_bad_checkpoint_every_is_one_line(text):
    # Named as the API's argument here; the command line names its flag (test_cli).
    with pytest.raises(VaelabError, match=f"^checkpoint_every '{re.escape(text)}' is not one "
                                          f"of: N \\(steps\\), Ns, Nm or Nmin, Nh \\(seconds, "
                                          f"minutes, hours\\), epoch or 0 \\(the ends of epochs "
                                          f"only\\)$"):
        Cadence.parse(text)


# ---------------------------------------------------------------------------------------------
# kill -9, for real.


def _vaelab(args: list[str], data: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VAELAB_DATA": str(data),
           "XDG_CACHE_HOME": str(data / "cache")}
    return subprocess.Popen([sys.executable, "-m", "vaelab", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_in_a_terminal)


def _as_in_a_terminal() -> None:
    """In the child: SIGINT not ignored, even when the suite runs under nohup."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


TRAIN = ["train", "--model", "vae", "--hidden-dims", "64", "--epochs", "4", "--batch-size",
         "16", "--train-subset", "512", "--checkpoint-every", "3", "--no-plots", "--quiet"]


def _kill_and_resume(tiny, tmp_path, kills: int, seed: int) -> None:
    """Train in a subprocess, kill -9 it after a random while, check that what is on disk
    loads, resume; again and again; then finish and compare with a run never killed."""
    data = mnist_folder(tiny, tmp_path / "data")
    started = time.monotonic()
    reference = _vaelab([*TRAIN, "--out", str(tmp_path / "whole")], data)
    assert reference.wait(timeout=600) == 0, reference.stderr.read()
    whole = time.monotonic() - started  # a run from start to end on this machine, now
    run, rng, killed, finished = tmp_path / "killed", random.Random(seed), 0, False

    def start() -> subprocess.Popen:
        if (run / "checkpoint.safetensors").exists():
            return _vaelab(["train", "--resume", str(run), *TRAIN[-4:]], data)
        for leftover in run.glob("*"):  # killed before its first checkpoint: begin again
            leftover.unlink()
        return _vaelab([*TRAIN, "--out", str(run)], data)

    while killed < kills and not finished:
        process = start()
        try:
            # A moment in the start-up, in training or between: a fixed span of seconds
            # would let a fast machine finish the first run before any kill.
            code = process.wait(timeout=rng.uniform(0.15, 0.75) * whole)
        except subprocess.TimeoutExpired:
            process.kill()  # SIGKILL: no handler runs, nothing is flushed
            process.wait()
            killed += 1
            if (run / "checkpoint.safetensors").exists():
                _unfinished(run)  # whatever is on disk loads
        else:
            assert code == 0, process.stderr.read()
            finished = True
    if not finished:
        process = start()
        assert process.wait(timeout=600) == 0, process.stderr.read()
    assert killed >= 1
    _assert_bitwise_equal(_weights(tmp_path / "whole"), _weights(run))


def test_kill_9_at_random_moments_then_resume_is_bitwise(tiny, tmp_path):
    _kill_and_resume(tiny, tmp_path, kills=3, seed=0)


@pytest.mark.slow
def test_kill_9_at_twenty_moments_of_one_run(tiny, tmp_path):
    _kill_and_resume(tiny, tmp_path, kills=20, seed=1)


def test_ctrl_c_in_a_real_process_exits_130_with_a_checkpoint(tiny, tmp_path):
    data = mnist_folder(tiny, tmp_path / "data")
    process = _vaelab([*TRAIN[:-1], "--out", str(tmp_path / "run")], data)
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "checkpoint.safetensors").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    err = process.stderr.read()
    assert "stopping after this step" in err and "go on with: vaelab train --resume" in err
    _unfinished(tmp_path / "run")


def test_a_second_signal_says_where_the_checkpoint_on_disk_stands(tiny, tmp_path, monkeypatch,
                                                                  terminal_signals, caplog):
    """A checkpoint inside epoch 2, then two Ctrl-Cs: not 'after epoch 1'."""
    def twice():
        signal.raise_signal(signal.SIGINT)
        _again(signal.SIGINT)

    _at_step(monkeypatch, STEPS + 6, twice)  # after the checkpoint at step 4 of epoch 2
    with caplog.at_level("WARNING", logger="vaelab"), pytest.raises(KeyboardInterrupt):
        train(_config(), tmp_path / "run", data=tiny, progress=False, checkpoint_every="4")
    assert "its last checkpoint (in epoch 2 after 4 of its steps) is whole" in caplog.text


def test_a_run_stopped_before_its_first_checkpoint_is_started_again_beside_it(
        tiny, tmp_path, monkeypatch, terminal_signals, caplog):
    def twice():
        signal.raise_signal(signal.SIGINT)
        _again(signal.SIGINT)

    run = tmp_path / "run"
    _at_step(monkeypatch, 3, twice)
    with caplog.at_level("WARNING", logger="vaelab"), pytest.raises(KeyboardInterrupt):
        train(_config(epochs=1), run, data=tiny, progress=False)
    # a new run never overwrites a folder; from Python, the call that starts it again
    again = f"vaelab.train(vaelab.RunConfig.load({str(run)!r}), {str(run) + '-2'!r})"
    assert f"stopped before its first checkpoint; start it again with: {again}" in caplog.text
    assert [p.name for p in run.iterdir()] == ["config.json"]
    with pytest.raises(VaelabError, match=re.escape(f"missing: the run stopped before its first "
                                                    f"checkpoint; start it again with {again}")
                       + "$"):
        resume(run, data=tiny, progress=False)
    with pytest.raises(VaelabError, match=r"model.safetensors: missing; the run has no "
                                          r"finished epoch \(it is still in its first, or it "
                                          r"stopped there\)$"):
        load_run(run)
    monkeypatch.undo()
    config = RunConfig.load(run / "config.json")  # as --config RUN reads it
    assert train(config, f"{run}-2", data=tiny, progress=False).epochs_done == 1


def test_a_full_disk_at_the_first_checkpoint_or_at_the_weights_says_what_is_kept(
        tiny, tmp_path, monkeypatch):
    def full_disk(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("vaelab.training.checkpoints.write_atomic", full_disk)
    with pytest.raises(VaelabError) as info:
        train(_config(epochs=1), tmp_path / "first", data=tiny, progress=False)
    assert str(info.value).endswith(
        f"could not write the checkpoint (No space left on device); there is none before it: "
        f"vaelab.train(vaelab.RunConfig.load({str(tmp_path / 'first')!r}), "
        f"{str(tmp_path / 'first') + '-2'!r}) starts the run again")
    monkeypatch.undo()
    real = __import__("vaelab.training.checkpoints", fromlist=["x"]).write_atomic

    weights = []

    def weights_fail(path, data):  # the last epoch's checkpoint is written, its weights not
        if Path(path).name == "model.safetensors":
            weights.append(path)
            if len(weights) == 2:
                full_disk(path, data)
        real(path, data)

    monkeypatch.setattr("vaelab.training.checkpoints.write_atomic", weights_fail)
    with pytest.raises(VaelabError) as info:
        train(_config(epochs=2), tmp_path / "run", data=tiny, progress=False)
    assert str(info.value) == (
        f"{tmp_path / 'run' / 'model.safetensors'}: could not be written (No space left on "
        f"device); the checkpoint (after epoch 2) is whole, and "
        f"vaelab.resume({str(tmp_path / 'run')!r}) writes it again")
    monkeypatch.undo()
    assert load_run(tmp_path / "run").epochs_done == 1  # the weights of the epoch before
    assert resume(tmp_path / "run", data=tiny, progress=False).epochs_done == 2
    assert load_run(tmp_path / "run").epochs_done == 2  # written again from the checkpoint


def test_a_finished_runs_damaged_weights_and_metrics_are_written_again_on_resume(
        tiny, tmp_path, full, caplog):
    import shutil

    run = shutil.copytree(full.path, tmp_path / "run")
    good = (run / "model.safetensors").read_bytes()
    (run / "model.safetensors").write_bytes(b"")
    (run / "metrics.jsonl").write_text("not json\n" + (full.path / "metrics.jsonl").read_text())
    with pytest.raises(VaelabError, match=re.escape(f"; vaelab.resume({str(run)!r}) writes it "
                                                    f"again from the run's checkpoint") + "$"):
        load_run(run)
    with caplog.at_level("WARNING", logger="vaelab"):
        resume(run, data=tiny, progress=False)
    assert "already has 3 epochs; nothing to train, and model.safetensors and metrics.jsonl " \
           "written again from its checkpoint" in caplog.text
    assert (run / "model.safetensors").read_bytes() == good
    assert (run / "metrics.jsonl").read_text() == (full.path / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text("not json\n{}\n")
    caplog.clear()
    with caplog.at_level("WARNING", logger="vaelab"):
        assert load_run(run).metrics == []  # the rest of the run is whole and usable
    assert "line 1 is not JSON; the loss curves are left out; vaelab.resume(" in caplog.text


def test_a_run_whose_metrics_lost_epochs_says_so_and_its_page_shows_no_old_curves(
        full, tmp_path, caplog):
    """An emptied metrics.jsonl left the loss figure of the run as it had been on its page,
    and the run read as one of 0 epochs."""
    import shutil

    from PIL import Image

    from vaelab.pictures.explore import _run_facts
    from vaelab.pictures.report import write_run_page

    run = shutil.copytree(full.path, tmp_path / "run")
    (run / "figures").mkdir(exist_ok=True)
    Image.new("RGB", (40, 30)).save(run / "figures" / "loss.png")  # drawn when it was whole
    records = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    again = f"; vaelab.resume({str(run)!r}) writes metrics.jsonl again from the run's checkpoint"
    for kept in (0, 1, None):  # None: the file removed
        if kept is None:
            (run / "metrics.jsonl").unlink()
        else:
            (run / "metrics.jsonl").write_text("".join(records[:kept]))
        caplog.clear()
        with caplog.at_level("WARNING", logger="vaelab"):
            loaded = load_run(run)
        assert loaded.epochs_done == 3 and loaded.metrics == []
        held = "is missing" if kept is None else f"holds {kept} of the run's 3 epochs"
        assert caplog.messages == [f"{run / 'metrics.jsonl'} {held}; the loss curves are left "
                                   f"out{again}"]
        page = write_run_page(loaded).read_text()
        assert "figures/loss.png" not in page and "Training curves" not in page
        # not the seconds of some epochs, nor epoch 1's loss
        assert '<th scope="row">training time (s)</th><td>—</td>' in page
        assert '<th scope="row">test loss per image</th><td>—</td>' in page
        facts = _run_facts(loaded)  # the explorer's, likewise
        assert facts["epochs"] == 3 and facts["seconds"] is None and facts["last"] is None
    # A last line cut short is said in the same one line, not in a second one before it.
    (run / "metrics.jsonl").write_text("".join(records[:2]) + records[2][:30])
    caplog.clear()
    with caplog.at_level("WARNING", logger="vaelab"):
        assert load_run(run).metrics == []
    assert caplog.messages == [f"{run / 'metrics.jsonl'} holds 2 of the run's 3 epochs (its "
                               f"last line is cut short); the loss curves are left out{again}"]
    (run / "metrics.jsonl").write_text("".join(records) + records[2][:30])  # one beyond: whole
    caplog.clear()
    with caplog.at_level("WARNING", logger="vaelab"):
        assert len(load_run(run).metrics) == 3
    assert caplog.messages == [f"{run / 'metrics.jsonl'}: its last line is not a whole record "
                               f"(cut short?); left out"]
    (run / "metrics.jsonl").write_text("".join(records))
    caplog.clear()
    with caplog.at_level("WARNING", logger="vaelab"):
        assert load_run(run).epochs_done == 3
    assert not caplog.messages


def test_sigterm_outside_training_ends_a_command_in_one_line(full, tmp_path, monkeypatch,
                                                              capsys, terminal_signals):
    """Before training takes the signals over (PyTorch still loading), or in a command that
    does not train, SIGTERM was the default: an end without a word."""
    from vaelab.cli import main

    def terminated(*args, **kwargs):
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr("vaelab.pictures.figures.plot_run", terminated)
    out = tmp_path / "for print"  # as the shell takes it, with what else was asked
    assert main(["plot", str(full.path), "-o", str(out), "--label", "3", "--between", "1",
                 "7"]) == 143
    assert capsys.readouterr().err == (f"vaelab: stopped while drawing the figures in '{out}', "
                                       f"which are not all drawn anew; draw them all again with "
                                       f"vaelab plot {full.path} --out '{out}' --label 3 "
                                       f"--between 1 7\n")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # a caller's own, after it


def _train_command(tiny, run: Path, monkeypatch, capsys, figures) -> tuple[int, str]:
    """vaelab train of a small run on ``tiny`` into ``run``, in this process, with ``figures``
    in place of plot_run; (exit status, stderr)."""
    from conftest import run_cli

    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *a, **k: tiny)
    monkeypatch.setattr("vaelab.pictures.figures.plot_run", figures)
    code, _, err = run_cli(["train", "--hidden-dims", "8", "--epochs", "1", "--train-subset",
                            "64", "-q", "-o", str(run)], capsys)
    return code, err


def test_ctrl_c_while_the_figures_are_drawn_says_how_to_draw_them(tiny, tmp_path, monkeypatch,
                                                                   capsys, terminal_signals):
    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    run = tmp_path / "run"
    code, err = _train_command(tiny, run, monkeypatch, capsys, ctrl_c)
    assert code == 130
    assert err.splitlines()[-1] == (f"vaelab: {run} is trained; its figures were stopped: "
                                    f"draw them with vaelab plot {run}")
    assert "interrupted" not in err
    # vaelab plot stopped so says how to draw them all again, in one line
    from conftest import run_cli

    code, _, err = run_cli(["plot", str(run), "-q"], capsys)
    assert code == 130 and err == (f"vaelab: stopped while drawing the figures in {run}/figures, "
                                   f"which are not all drawn anew; draw them all again with "
                                   f"vaelab plot {run}\n"), err


def test_the_end_of_a_command_touches_no_half_loaded_pytorch(monkeypatch):
    """A Ctrl-C while PyTorch loads leaves a half-made torch.distributed, which neither the
    end of the command nor its exit may import again."""
    import types

    from vaelab import cli

    monkeypatch.setitem(sys.modules, "torch.distributed", types.ModuleType("torch.distributed"))
    assert cli._grouped() is False
    monkeypatch.setitem(sys.modules, "vaelab.distributed", None)  # an import of it would fail
    monkeypatch.setattr(cli, "main", lambda: 130)
    ended = []
    monkeypatch.setattr(cli, "exit_now", ended.append)
    monkeypatch.setattr(cli.logging, "shutdown", lambda: None)  # the suite's logging goes on
    monkeypatch.setattr(cli.threading, "enumerate", lambda: [cli.threading.main_thread()])
    monkeypatch.delitem(sys.modules, "torch._inductor.compile_worker.subproc_pool",
                        raising=False)  # as the suite's compile tests leave it
    cli.run()
    assert ended == [130]


def test_a_file_that_cannot_be_written_is_named_not_its_temporary(tmp_path, monkeypatch):
    from vaelab.files import write_atomic

    def refused(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / ".x.png.ab.tmp"))

    monkeypatch.setattr("builtins.open", refused)
    with pytest.raises(OSError) as info:
        write_atomic(tmp_path / "x.png", b"png")
    assert info.value.filename == str(tmp_path / "x.png") and info.value.errno == errno.EROFS


def test_a_signal_while_a_command_starts_ends_it_in_one_line(tiny, tmp_path, full):
    """Ctrl-C or SIGTERM at any moment of a command's start (PyTorch loading): one line and
    130 or 143, or the command done, never a traceback of a half-loaded module."""
    data = mnist_folder(tiny, tmp_path / "data")
    seen = set()
    for signal_number, after in ((signal.SIGINT, 0.3), (signal.SIGTERM, 0.35),
                                 (signal.SIGINT, 0.5), (signal.SIGTERM, 0.8)):
        process = _vaelab(["sample", str(full.path), "-n", "4", "-o",
                           str(tmp_path / "s.png")], data)
        time.sleep(after)
        process.send_signal(signal_number)
        code = process.wait(timeout=60)
        err = process.stderr.read()
        assert "Traceback" not in err, err
        said = "interrupted" if signal_number == signal.SIGINT else "stopped by SIGTERM"
        assert code == 0 or (code == 128 + signal_number
                             and err.splitlines()[-1] == f"vaelab: {said}"), (code, err)
        seen.add(code)
    assert seen - {0}, "every command ended before its signal: the moments are too late"


def test_resuming_a_finished_run_leaves_whole_files_and_a_later_epochs_weights_alone(
        tiny, tmp_path, full, monkeypatch, terminal_signals, caplog):
    import shutil

    run = shutil.copytree(full.path, tmp_path / "run")
    before = {name: (run / name).read_bytes() for name in ("model.safetensors", "metrics.jsonl")}
    with caplog.at_level("WARNING", logger="vaelab"):
        resume(run, data=tiny, progress=False)  # a healthy run: nothing written
    assert "written again" not in caplog.text
    assert all((run / name).read_bytes() == data for name, data in before.items())
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 4, "tra')  # torn: read without it, and written again whole
    resume(run, data=tiny, progress=False)
    assert (run / "metrics.jsonl").read_bytes() == before["metrics.jsonl"]
    # Stopped inside a 4th epoch, then resumed with nothing to train: the checkpoint's
    # weights are the 4th epoch's so far, not the 3rd's that model.safetensors holds
    _at_step(monkeypatch, 4, lambda: signal.raise_signal(signal.SIGINT))
    with pytest.raises(Interrupted):
        resume(run, epochs=4, data=tiny, progress=False, checkpoint_every="2")
    monkeypatch.undo()
    caplog.clear()
    with caplog.at_level("WARNING", logger="vaelab"):
        resume(run, epochs=3, data=tiny, progress=False)
    assert "model.safetensors" not in caplog.text.split("nothing to train")[-1]
    assert (run / "model.safetensors").read_bytes() == before["model.safetensors"]


def test_the_folder_to_start_again_in_is_a_free_one(tmp_path, command_line_voice):
    from vaelab.training.stopping import start_again

    (tmp_path / "run-2").mkdir()
    assert start_again(tmp_path / "run") == f"vaelab train --config {tmp_path / 'run'} -o " \
                                            f"{tmp_path / 'run-3'}"


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_the_last_step_still_stops_what_would_follow(tiny, tmp_path, monkeypatch,
                                                                     capsys, terminal_signals,
                                                                     number):
    """A signal during the last epoch's test loss: the run is trained and saved, and the
    figures are not drawn. It was said to stop, and then the command drew every figure (the
    demo measured too) and ended with status 0."""
    real = jobs_module.objective_per_image

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), number)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs_module, "objective_per_image", signalled)
    run = tmp_path / "run"
    code, err = _train_command(tiny, run, monkeypatch, capsys,
                               lambda *a, **k: pytest.fail("drawn"))
    assert code == 128 + number
    assert err.splitlines()[-2:] == [
        f"vaelab: {run}: trained and saved; the signal came after its last step",
        f"vaelab: draw its figures with: vaelab plot {run}"]
    assert [m["epoch"] for m in load_run(run).metrics] == [1]


def test_a_full_disk_while_the_figures_are_drawn_says_the_run_is_trained(tiny, tmp_path,
                                                                         monkeypatch, capsys):
    """For train, --out starts another run: the way on is vaelab plot."""
    from vaelab.files import WriteError

    def full(run, **_):
        raise WriteError(errno.ENOSPC, "No space left on device",
                         str(run.path / "figures" / "manifold.png"))

    run = tmp_path / "run"
    code, err = _train_command(tiny, run, monkeypatch, capsys, full)
    assert code == 2
    assert err.splitlines()[-1] == (f"vaelab: error: {run}/figures/manifold.png: No space left "
                                    f"on device; {run} is trained: draw its figures with vaelab "
                                    f"plot {run} once there is room, or elsewhere with its -o "
                                    f"DIR")


def test_what_a_killed_write_left_behind_is_removed_when_the_run_goes_on(full, tiny,
                                                                         tmp_path):
    """kill -9 while a checkpoint is written leaves its temporary, as large as it, for good."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(full.path, run)
    (run / ".checkpoint.safetensors.dd9408a4.tmp").write_bytes(bytes(1000))
    (run / ".notes.tmp").write_text("not vaelab's")
    (run / ".eval.json.0123abcd.tmp").write_text("another command's, being written")
    resume(run, epochs=3, data=tiny, progress=False)
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == [
        ".eval.json.0123abcd.tmp", ".notes.tmp"]


def test_a_write_on_a_read_only_disk_names_the_file_and_the_same_file_is_not_written(
        tmp_path, monkeypatch):
    """On a read-only disk, removing the temporary fails too (EROFS, not 'missing'): the
    error named the temporary. And --resume wrote config.json again even when unchanged."""
    import builtins

    from vaelab.files import WriteError, write_atomic

    config = _config()
    config.save(tmp_path / "config.json")
    real_open = builtins.open

    def read_only(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wxa"):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return real_open(file, mode, *args, **kwargs)

    def no_unlink(self, missing_ok=False):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(builtins, "open", read_only)
    monkeypatch.setattr(Path, "unlink", no_unlink)
    with pytest.raises(WriteError) as info:
        write_atomic(tmp_path / "new.json", "{}")
    assert (info.value.filename, info.value.errno) == (str(tmp_path / "new.json"), errno.EROFS)
    config.save(tmp_path / "config.json")  # as it is: nothing to write
    with pytest.raises(WriteError):
        dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=4)).save(
            tmp_path / "config.json")


def test_a_run_in_a_folder_that_cannot_be_written_is_refused_before_it_resumes(
        full, tiny, tmp_path, monkeypatch):
    """Its first checkpoint write failed, after loading the data and a step; now it is one
    line before any work, and the run is left as it was."""
    import shutil

    run = shutil.copytree(full.path, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    monkeypatch.setattr("vaelab.training.folders.writable",  # as root, no folder is read-only
                        lambda folder: Path(folder) != run)
    with pytest.raises(VaelabError, match=f"^{re.escape(str(run))}: cannot be written, and its "
                                          f"checkpoints go there; copy it to a folder you may "
                                          f"write to, and go on there$"):
        resume(run, epochs=4, data=tiny, progress=False)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_demo_stopped_in_training_names_the_demos_command_once(tiny, tmp_path, monkeypatch,
                                                                  capsys, terminal_signals):
    """Each run says where it stands, and the demo's line alone names the command that
    finishes it, once (not each run's vaelab train --resume, which would leave the demo
    unfinished), with no 'vaelab: interrupted' after it."""
    from conftest import run_cli

    real, calls = jobs_module.objective_per_image, []

    def signalled(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr("vaelab.demo.load_dataset", lambda *a, **k: tiny)
    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *a, **k: tiny)
    monkeypatch.setattr(jobs_module, "objective_per_image", signalled)
    demo = tmp_path / "demo"
    code, _, err = run_cli(["demo", "--epochs", "3", "-q", "-o", str(demo)], capsys)
    assert code == 130
    lines = [line for line in err.splitlines() if "stopped" in line]
    assert lines[-1] == (f"vaelab: {demo}: the demo was stopped; finish it with: vaelab demo "
                         f"--resume {demo} -q")  # as quiet as it was
    assert all(line.endswith(", all saved") and line.startswith(f"vaelab: {demo}/")
               for line in lines[:-1]) and len(lines) == 3, err
    assert err.count("--resume") == 1 and "interrupted" not in err
    calls.clear()  # stopped again while the demo is finished (both runs go on): the same
    code, _, err = run_cli(["demo", "--resume", str(demo), "-q"], capsys)
    lines = [line for line in err.splitlines() if "stopped" in line]
    assert code == 130 and len(lines) == 3 and err.count("--resume") == 1, err
    assert all(line.endswith("all saved") for line in lines[:-1]), err
    assert lines[-1].endswith(f"finish it with: vaelab demo --resume {demo} -q"), err


@pytest.mark.parametrize("left", ["both", "the VAE"])
def test_a_stopped_demo_finishes_side_by_side_as_it_began_and_bitwise(left, tiny, tmp_path,
                                                                      monkeypatch,
                                                                      terminal_signals):
    """vaelab demo --resume trains the runs left with the share of the threads that the demo
    began them with (one of two each), not each alone with all of them, whether both are left
    or one (the AE trained to its end before the stop): on some machines another number of
    threads rounds otherwise, and the finished demo's weights then differed from those of one
    never stopped."""
    from vaelab.demo import finish_demo, run_demo

    real_objective, real_epoch = jobs_module.objective_per_image, jobs_module.train_epoch
    tested, threads = [], []

    def signalled(model, *args, **kwargs):  # in a test loss: the first, or the AE's last
        if left == "both" or type(model).__name__ == "Autoencoder":
            tested.append(1)
            if len(tested) == (1 if left == "both" else 3):
                os.kill(os.getpid(), signal.SIGINT)
        return real_objective(model, *args, **kwargs)

    def slowed(model, *args, **kwargs):  # the VAE an epoch or more behind the AE
        if left != "both" and type(model).__name__ == "VAE":
            time.sleep(0.5)
        return real_epoch(model, *args, **kwargs)

    def counted(model, *args, **kwargs):
        threads.append((type(model).__name__, torch.get_num_threads()))
        return real_epoch(model, *args, **kwargs)

    threads_before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_demo(tmp_path / "whole", epochs=3, data=tiny, progress=False)
        monkeypatch.setattr(jobs_module, "objective_per_image", signalled)
        monkeypatch.setattr(jobs_module, "train_epoch", slowed)
        with pytest.raises(Interrupted):
            run_demo(tmp_path / "stopped", epochs=3, data=tiny, progress=False)
        trained = [len(read_metrics(tmp_path / "stopped" / name)) == 3 for name in ("ae", "vae")]
        assert trained == ([False, False] if left == "both" else [True, False])
        monkeypatch.setattr(jobs_module, "objective_per_image", real_objective)
        monkeypatch.setattr(jobs_module, "train_epoch", counted)
        finish_demo(tmp_path / "stopped", data=tiny, progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads_before)
    assert set(threads) == ({("Autoencoder", 1), ("VAE", 1)} if left == "both"
                            else {("VAE", 1)}), threads  # one thread each, as they began
    for name in ("ae", "vae"):
        _assert_bitwise_equal(_weights(tmp_path / "whole" / name),
                              _weights(tmp_path / "stopped" / name))


def test_a_signal_after_the_last_step_hands_no_run_on(tiny, tmp_path, monkeypatch,
                                                       terminal_signals):
    """What follows training (the demo's measuring, minutes of it) is not begun after a stop."""
    from vaelab.training.loop import train_all

    real = jobs_module.objective_per_image

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs_module, "objective_per_image", signalled)
    handed = []
    with pytest.raises(Interrupted) as info:
        train_all([_config(epochs=1)], [tmp_path / "run"], data=tiny, progress=False,
                  then=handed.append)
    assert handed == [] and info.value.trained == [tmp_path / "run"]
    assert info.value.code == 143


def test_a_second_signal_as_the_stops_checkpoint_is_written_says_where_the_last_stands(
        tiny, tmp_path, monkeypatch, terminal_signals, caplog):
    """Two Ctrl-Cs 50 ms apart (torchrun's processes take longer to write the stop's own
    checkpoint): the second came as it was written, and the run ended without a word of
    where it stood."""
    asked, real = [], jobs_module.save

    def first():
        signal.raise_signal(signal.SIGINT)
        asked.append(True)

    def save(job):
        if asked:  # the stop's checkpoint, as it is written
            _again(signal.SIGINT)
        real(job)

    _at_step(monkeypatch, STEPS + 3, first)
    monkeypatch.setattr(jobs_module, "save", save)
    with caplog.at_level("WARNING", logger="vaelab"), pytest.raises(KeyboardInterrupt):
        train(_config(), tmp_path / "run", data=tiny, progress=False)
    assert (f"run: stopped; its last checkpoint (after epoch 1) is whole; go on with: "
            f"vaelab.resume({str(tmp_path / 'run')!r})") in caplog.text
    assert _unfinished(tmp_path / "run").epoch == 1


@pytest.mark.parametrize("when", ["as its processes meet", "as its run is readied"])
def test_a_signal_as_the_folder_is_made_says_how_to_start_the_run_again(
        tiny, tmp_path, monkeypatch, caplog, when):
    """Under torchrun a signal in the second after config.json was written left a bare
    'vaelab: interrupted', and the same command then found the folder taken."""
    from vaelab.training import loop

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    if when == "as its processes meet":  # its settings written, before every process has
        real = RunConfig.save  # heard the folder's name

        def save(config, path):
            real(config, path)
            stop()

        monkeypatch.setattr(RunConfig, "save", save)
    else:
        monkeypatch.setattr(loop, "Job", stop)
    run = tmp_path / "run"
    with caplog.at_level("WARNING", logger="vaelab"), pytest.raises(Interrupted) as stopped:
        train(_config(), run, data=tiny, progress=False)
    assert stopped.value.told and stopped.value.code == 130
    assert (f"run: stopped before its first step; start it again with: "
            f"vaelab.train(vaelab.RunConfig.load({str(run)!r}), {str(run) + '-2'!r})"
            ) in caplog.text
    assert [p.name for p in run.iterdir()] == ["config.json"]


def test_signals_go_to_a_handler_inside_and_back_after_unless_ignored_or_set_in_c(
        terminal_signals, monkeypatch):
    """One mechanism for the training's stop and for torchrun's meeting: a signal that was
    ignored stays so, and one whose handler C set (Python sees None) is left to it, where
    putting None back had raised TypeError."""
    from vaelab.files import signals_to

    def mine(number, frame):
        pass

    with signals_to(mine):
        assert signal.getsignal(signal.SIGINT) is mine and signal.getsignal(signal.SIGTERM) is mine
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    real = signal.getsignal
    monkeypatch.setattr(signal, "getsignal",
                        lambda n: None if n == signal.SIGTERM else real(n))  # as C leaves it
    with signals_to(mine):
        assert real(signal.SIGINT) is signal.SIG_IGN and real(signal.SIGTERM) is signal.SIG_DFL
    assert real(signal.SIGINT) is signal.SIG_IGN


def test_a_signal_passed_on_at_once_is_one_stop_and_a_second_by_hand_is_not(monkeypatch):
    """A scheduler's SIGTERM to every process and torchrun's passing it on came 50 ms apart,
    and the second was taken for 'SIGTERM again stops at once': the steps since the last
    checkpoint were lost; so too a Ctrl-C to a group that timeout passed on to its child."""
    import threading

    from vaelab.training import stopping

    monkeypatch.setattr(stopping, "ECHO", 0.5)
    stop = threading.Event()
    with stopping.stop_on_signals(stop) as received:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs between bytecodes: surely by now
        os.kill(os.getpid(), signal.SIGTERM)  # the same stop, sent twice
        time.sleep(0.05)
        assert stop.is_set() and received == [signal.SIGTERM]
        time.sleep(0.5)
        with pytest.raises(stopping.Interrupted) as info:  # a second, later: at once
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        assert info.value.code == 143
    stop = threading.Event()
    with stopping.stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        with pytest.raises(stopping.Interrupted) as info:  # Ctrl-C twice: at once, however soon
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        assert info.value.code == 130
    stop = threading.Event()  # a Ctrl-C to the group, which `timeout` passes on at once
    with stopping.stop_on_signals(stop) as received:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        except stopping.Interrupted:
            pytest.fail("a Ctrl-C passed on by a launcher stopped at once")
        assert stop.is_set() and received == [signal.SIGINT]
