"""Several processes, for real: torchrun starts two CPU processes (gloo, on 127.0.0.1) that
train or measure one run, and what they produce is compared with one process's."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

from conftest import mnist_folder
from vaelab.config import RunConfig
from vaelab.distributed import SINGLE, World
from vaelab.measuring.evaluation import evaluate_run
from vaelab.training.loop import train

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="this PyTorch has no torch.distributed with the gloo backend")

SMALL = ["--hidden-dims", "32", "--train-subset", "256", "--no-plots", "--quiet"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], data: Path, processes: int = 2) -> subprocess.Popen:
    """``torchrun --nproc-per-node 2 -m vaelab ARGS`` on this machine's loopback."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VAELAB_DATA": str(data),
           "XDG_CACHE_HOME": str(data / "cache"), "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={processes}",
               "--master-addr=127.0.0.1", f"--master-port={_free_port()}",
               f"--log-dir={data / 'torchrun'}", "-m", "vaelab",  # not a folder in /tmp each
               *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen, timeout: float = 300) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out


def _one_process(run: Path, tiny, out: Path):
    """The same run, from its own config.json, trained by this one process with one thread
    (as each of the two processes has); the thread count is given back after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(RunConfig.load(run / "config.json"), out, data=tiny, progress=False,
                     checkpoint_every="epoch")
    finally:
        torch.set_num_threads(threads)


def _assert_same_run(two: Path, one: Path) -> None:
    curves = [[json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
              for run in (two, one)]
    assert len(curves[0]) == len(curves[1])
    for a, b in zip(*curves, strict=True):
        for split in ("train", "test"):
            for term, value in a[split].items():
                assert value == pytest.approx(b[split][term], rel=1e-5, abs=1e-5), (split, term)
    weights = [load_file(run / "model.safetensors") for run in (two, one)]
    for name, value in weights[0].items():
        torch.testing.assert_close(value, weights[1][name], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("flags", [
    # noise, black-or-white pixels and a KL warm-up, a batch that two processes split 22 + 23
    # and an epoch that ends on a short one
    ["--model", "vae", "--binarize", "dynamic", "--noise", "mask:0.3", "--kl-warmup", "2",
     "--likelihood", "bce", "--batch-size", "45", "--epochs", "2"],
    # a conditional model, k importance samples per image, a clipped gradient
    ["--model", "cvae", "--objective", "iwae", "--k", "3", "--batch-size", "64",
     "--grad-clip", "50", "--epochs", "2"],
], ids=["vae", "cvae-iwae"])
def test_two_processes_train_as_one_with_the_same_global_batch(tiny, tmp_path, flags):
    data = mnist_folder(tiny, tmp_path / "data")
    _finish(_torchrun(["train", *flags, *SMALL, "--out", str(tmp_path / "two")], data))
    _one_process(tmp_path / "two", tiny, tmp_path / "one")
    _assert_same_run(tmp_path / "two", tmp_path / "one")
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir())  # rank 0 alone wrote, the same files


def test_a_distributed_evaluation_equals_one_process(tiny, tmp_path):
    run = train(RunConfig.from_dict({"model": {"hidden_dims": [32]},
                                     "train": {"epochs": 1, "batch_size": 64}}),
                tmp_path / "run", data=tiny, progress=False)
    options = dict(k=20, samples=3, chunk=64)  # 3 images a batch of the bound: 43 batches
    torch.set_num_threads(1)  # as each of the two processes has (conftest gives it back)
    one = evaluate_run(run, tiny, **options, save=False, progress=False).to_dict()
    shutil.copytree(run.path, tmp_path / "copy")
    data = mnist_folder(tiny, tmp_path / "data")
    process = _torchrun(["eval", str(tmp_path / "copy"), "-k", "20", "--samples", "3",
                         "--chunk", "64"], data)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    # rank 0 counts its share once for each process: 22 batches of 3, twice, made 132
    assert f"NLL, k = 20: {len(tiny.test_images)} images in" in err, err[-3000:]
    two = json.loads((tmp_path / "copy" / "eval.json").read_text())
    for name, score in one["metrics"].items():
        if name == "loss":  # sums of two processes, added in another order
            assert two["metrics"][name]["value"] == pytest.approx(score["value"], rel=1e-6)
        else:  # every image saw the draws it sees in one process
            assert two["metrics"][name] == score, name


def test_an_error_after_the_processes_meet_is_said_once_by_rank_0(tiny, tmp_path):
    """A taken --out, which rank 0 finds and tells the others of, was said by both."""
    data = mnist_folder(tiny, tmp_path / "data")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    process = _torchrun(["train", *SMALL, "--out", str(taken)], data)
    _, err = process.communicate(timeout=300)
    said = [line for line in err.splitlines() if "error:" in line]
    assert process.returncode != 0 and len(said) == 1, err[-3000:]
    assert said[0].startswith(f"vaelab (rank 0): error: {taken} already exists")
    assert (taken / "notes.txt").read_text() == "mine"


def _listening(port: int) -> bool:
    """Whether a socket of this machine listens on ``port`` (from /proc/net/tcp and tcp6)."""
    rows = [row for name in ("tcp", "tcp6") if (table := Path("/proc/net") / name).exists()
            for row in table.read_text().splitlines()[1:]]
    return any(int(row.split()[1].split(":")[1], 16) == port and row.split()[3] == "0A"
               for row in rows)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="sees the store through /proc")
def test_a_process_waiting_for_the_others_ends_on_sigterm(tiny, tmp_path):
    """Rank 0 of two, with no rank 1 ever started, waited for it half an hour whatever
    signal came: vaelab's handler runs in Python, and the wait is in C++."""
    data = mnist_folder(tiny, tmp_path / "data")
    port = _free_port()
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "VAELAB_DATA": str(data),
           "XDG_CACHE_HOME": str(data / "cache"), "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-m", "vaelab", "train", *SMALL, "--out",
                                str(tmp_path / "run")], env=env, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 120
        while not _listening(port) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)  # until rank 0's store waits for rank 1
        assert process.poll() is None and _listening(port)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()  # not left waiting for half an hour, if it still waits
    assert process.returncode == -signal.SIGTERM, err[-3000:]
    assert not (tmp_path / "run").exists()  # nothing was made that a stop should keep


def _workers(parent: int) -> dict[int, int]:
    """{rank: pid} of the processes that torchrun ``parent`` started."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().split()[3]) == parent:
                env = (entry / "environ").read_bytes().split(b"\0")
                rank = next(v for v in env if v.startswith(b"RANK="))
                found[int(rank[5:])] = int(entry.name)
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds ranks through /proc")
def test_a_run_whose_rank_was_killed_resumes_under_torchrun(tiny, tmp_path):
    data = mnist_folder(tiny, tmp_path / "data")
    run = tmp_path / "run"
    flags = ["--model", "vae", "--binarize", "dynamic", "--batch-size", "32", "--epochs", "6",
             "--checkpoint-every", "3", *SMALL]
    process = _torchrun(["train", *flags, "--out", str(run)], data)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.safetensors").exists():  # a checkpoint inside epoch 1
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.01)
    os.kill(_workers(process.pid)[1], signal.SIGKILL)  # rank 1, at once
    process.communicate(timeout=120)
    assert process.returncode != 0
    finished = (run / "metrics.jsonl").read_text().splitlines() if (
        run / "metrics.jsonl").exists() else []
    assert len(finished) < 6  # it was cut short
    _finish(_torchrun(["train", "--resume", str(run), "--quiet", "--no-plots"], data))
    _one_process(run, tiny, tmp_path / "one")
    _assert_same_run(run, tmp_path / "one")


def test_sigterm_to_torchrun_stops_both_processes_after_one_step_then_resumes(tiny, tmp_path):
    data = mnist_folder(tiny, tmp_path / "data")
    run = tmp_path / "run"
    flags = ["--model", "vae", "--batch-size", "32", "--epochs", "6", "--checkpoint-every",
             "epoch", *SMALL]
    process = _torchrun(["train", *flags, "--out", str(run)], data)
    deadline = time.monotonic() + 120
    while not (run / "metrics.jsonl").exists():  # after epoch 1
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)  # torchrun passes it on to both processes
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0
    stopped = [line for line in err.splitlines() if "all saved; go on with" in line]
    assert len(stopped) == 1, err[-3000:]  # rank 0 alone says so, and how to go on
    assert f"torchrun --nproc-per-node 2 -m vaelab train --resume {run}" in stopped[0]
    assert len((run / "metrics.jsonl").read_text().splitlines()) < 6
    _finish(_torchrun(["train", "--resume", str(run), "--quiet", "--no-plots"], data))
    _one_process(run, tiny, tmp_path / "one")
    _assert_same_run(run, tmp_path / "one")


def test_a_rank_lost_before_the_first_checkpoint_says_to_start_again_under_torchrun(
        tiny, tmp_path):
    data = mnist_folder(tiny, tmp_path / "data")
    run = tmp_path / "run"
    flags = ["--model", "vae", "--batch-size", "2", "--epochs", "2", "--checkpoint-every",
             "epoch", "--hidden-dims", "32", "--no-plots", "--quiet"]
    process = _torchrun(["train", *flags, "--out", str(run)], data)
    deadline = time.monotonic() + 120
    while not (run / "config.json").exists():  # training has begun; no checkpoint yet
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.01)
    os.kill(_workers(process.pid)[1], signal.SIGKILL)  # rank 1
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0
    assert not (run / "checkpoint.safetensors").exists(), "epoch 1 ended first: kill sooner"
    said = [line for line in err.splitlines() if "another process of the run stopped" in line]
    assert said == [f"vaelab (rank 0): error: {run}: another process of the run stopped "
                    f"before its first checkpoint; start it again with torchrun "
                    f"--nproc-per-node 2 -m vaelab train --config {run} -o {run}-2 "
                    f"--no-plots -q --checkpoint-every epoch"], err[-3000:]  # as it was given


def test_an_error_before_the_processes_meet_is_said_once_by_rank_0(tmp_path):
    process = _torchrun(["train", "--model", "nosuchmodel"], tmp_path)
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0
    said = [line for line in err.splitlines() if "error:" in line and "vaelab" in line]
    assert len(said) == 1 and said[0].startswith("vaelab (rank 0): error: --model"), err[-3000:]


def test_the_other_ranks_wait_before_an_error_of_their_own_and_print_no_help(
        monkeypatch, capsys):
    from vaelab import cli

    waits = []
    monkeypatch.setattr(cli.time, "sleep", waits.append)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert cli.main(["train", "--model", "nosuchmodel"]) == 2
    assert waits == [cli.SAY_AFTER]  # rank 0's line first, if it has the same error
    assert capsys.readouterr().err.startswith("vaelab (rank 1): error: --model")
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert capsys.readouterr().out == ""  # rank 0 prints the help
    monkeypatch.setenv("RANK", "0")
    assert cli.main(["train", "--model", "nosuchmodel"]) == 2
    assert waits == [cli.SAY_AFTER]
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "--epochs" in capsys.readouterr().out


def test_sigterm_to_torchrun_while_the_figures_are_drawn_says_how_to_draw_them(
        tiny, tmp_path):
    data = mnist_folder(tiny, tmp_path / "data")
    flags = ["--model", "vae", "--epochs", "1", "--hidden-dims", "32", "--train-subset", "256"]
    for attempt in range(3):  # the figures of so small a run can all be drawn before it lands
        run = tmp_path / f"run{attempt}"
        process = _torchrun(["train", *flags, "--out", str(run)], data)
        deadline = time.monotonic() + 120
        while not (run / "figures").exists():  # trained; the figures are being drawn
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
        assert process.returncode != 0
        if not (run / "index.html").exists():  # the page comes last: the figures were cut
            break
    assert f"{run} is trained; its figures were stopped: draw them with vaelab plot {run}" \
        in err, err[-3000:]


def test_a_world_of_one_shares_rows_and_sums_as_itself():
    assert SINGLE.rows(7) == slice(0, 7)
    assert [World(r, 3).rows(8) for r in range(3)] == [slice(0, 2), slice(2, 5), slice(5, 8)]
    assert [len(World(r, 2).mine(5)) for r in range(2)] == [2, 3]
    assert SINGLE.ballot(2).cast(True, False) == (True, False)
    assert SINGLE.from_main(lambda: 3) == 3


def test_commands_other_than_train_and_eval_refuse_torchrun(monkeypatch, capsys, tmp_path):
    from vaelab.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    # It leaves as done: torchrun stops every process once one fails, and rank 1 failing
    # at once could stop rank 0 before its line.
    assert main(["plot", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    assert main(["plot", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "vaelab (rank 0): error: vaelab plot runs in one process; torchrun starts vaelab "
        "train and vaelab eval in several")


def test_a_world_size_that_is_no_number_is_one_line(monkeypatch, capsys, tmp_path):
    """WORLD_SIZE=abc ended in a ValueError's traceback."""
    from vaelab.cli import main

    monkeypatch.setenv("WORLD_SIZE", "abc")
    assert main(["train", "--epochs", "1", "-o", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        "vaelab: error: WORLD_SIZE is 'abc', not a number of processes; unset it, or start "
        "vaelab with torchrun, which sets it\n")
    assert not (tmp_path / "run").exists()


def _python(script: str) -> subprocess.CompletedProcess:
    """``python -c SCRIPT`` with this test's imports, its output buffered as in a pipe."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env={**env, "PYTHONPATH": os.pathsep.join(sys.path)})


# What Python's teardown would print, were it to run: gloo's worker threads can abort it.
TEARDOWN = "import atexit; atexit.register(lambda: print('teardown', flush=True))\n"


def test_a_process_of_several_ends_flushed_and_without_pythons_teardown():
    done = _python(TEARDOWN + "import sys\nfrom vaelab.distributed import end\n"
                   "print('said', end=''); sys.stderr.write('warned'); end(3)")
    assert (done.returncode, done.stdout, done.stderr) == (3, "said", "warned")


def test_the_command_line_ends_a_process_of_a_group_through_end(tmp_path):
    # a group of one, started as torchrun's processes start theirs, then a command that fails
    done = _python(TEARDOWN + "import torch.distributed as dist\n"
                   f"dist.init_process_group('gloo', init_method='file://{tmp_path}/store', "
                   "rank=0, world_size=1)\n"
                   "from vaelab.cli import main\n"
                   f"main(['plot', '{tmp_path}/nothing'])")
    assert done.returncode == 2
    assert done.stdout == ""  # no teardown
    assert done.stderr.strip() == f"vaelab: error: {tmp_path}/nothing: no such run folder"


def test_a_peer_lost_before_the_run_has_a_folder_is_said_in_one_line(
        monkeypatch, capsys, tmp_path):
    from vaelab import cli
    from vaelab.training import loop

    def lost(*args, **kwargs):
        raise RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer")

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setattr(loop, "_device_and_world", lambda _: (torch.device("cpu"), World(0, 2)))
    # at the processes' first meeting, over the folder's check: no folder yet
    monkeypatch.setattr(World, "first", lost)
    assert cli.main(["train", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "vaelab (rank 0): error: another of torchrun's processes stopped, and this one with "
        "it (its own lines say why); run the command again"]
    assert not (tmp_path / "run").exists()
    # A fault of the process's own, in NCCL or gloo, is not taken for another one's loss.
    def fault(*args, **kwargs):
        raise RuntimeError("NCCL error in: init.cpp:71, unhandled cuda error")

    monkeypatch.setattr(World, "first", fault)
    with pytest.raises(RuntimeError, match="unhandled cuda error"):
        cli.main(["train", "--out", str(tmp_path / "run")])


def test_a_peer_lost_as_rank_0_names_the_new_folder_says_to_start_it_again(monkeypatch,
                                                                           tmp_path):
    from vaelab.errors import VaelabError
    from vaelab.training.loop import _new_run_everywhere

    def lost(self, value):
        raise RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer")

    monkeypatch.setattr(World, "first", lost)
    monkeypatch.setenv("WORLD_SIZE", "2")
    run = tmp_path / "run"
    with pytest.raises(VaelabError) as err:
        _new_run_everywhere(World(0, 2), run, RunConfig())
    assert str(err.value) == (f"{run}: another process of the run stopped before its first "
                              f"checkpoint; start it again with torchrun --nproc-per-node 2 -m "
                              f"vaelab train --config {run} -o {run}-2")
    assert (run / "config.json").exists()  # what the command names


def test_a_process_that_outlives_rank_0_writing_a_checkpoint_names_the_one_before(
        monkeypatch, tmp_path):
    from vaelab.training.jobs import Job, initial_state, save

    config = RunConfig()
    job = Job(tmp_path / "run", config, *initial_state(config, torch.device("cpu")),
              metrics=[{"epoch": 1}, {"epoch": 2}], on_disk="after epoch 1", world=World(1, 2))

    def lost(self, tensor):  # rank 0 went away as it wrote epoch 2's checkpoint
        raise RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer")

    monkeypatch.setattr(World, "sum", lost)
    with pytest.raises(RuntimeError, match="closed by peer"):
        save(job)
    assert job.on_disk == "after epoch 1"  # what is on disk
    monkeypatch.setattr(World, "sum", lambda self, tensor: tensor)  # written: rank 0 says so
    save(job)
    assert job.on_disk == "after epoch 2" and not (tmp_path / "run").exists()  # rank 0 writes


def test_each_process_minimises_its_rows_sum_times_the_number_of_processes(monkeypatch):
    """DistributedDataParallel averages the processes' gradients: each scales its partial sum
    by their number, so that the average is the gradient of the whole batch's sum."""
    from torch import nn

    from vaelab.config import ModelConfig, TrainConfig
    from vaelab.models import build_model
    from vaelab.training.step import Objective, Step

    model = build_model(ModelConfig(model="vae", hidden_dims=(16,)), (1, 28, 28))
    x, eps = torch.rand(4, 1, 28, 28), torch.randn(4, 2)
    one = Objective(model, TrainConfig())(x, x, None, eps, 1.0)
    two = Objective(model, TrainConfig(), 2)(x, x, None, eps, 1.0)
    torch.testing.assert_close(two[0], 2 * one[0])
    torch.testing.assert_close(two[1], one[1])  # what is reported stays the rows' own sums
    monkeypatch.setattr(nn.parallel, "DistributedDataParallel", lambda objective, **_: objective)
    optimizer = torch.optim.Adam(model.parameters())
    assert Step(model, optimizer, TrainConfig(), World(rank=1, size=2)).objective.scale == 2
