"""vaelab from Python, as a notebook calls it: a wrong argument is one line in vaelab's own
error type that names what was given, never a TypeError from deep inside or a file handle
closed behind the caller's back."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import sys

import numpy as np
import pytest
import torch

from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.data import ImageData, load_dataset
from vaelab.distributions import DiagonalGaussian
from vaelab.errors import VaelabError
from vaelab.pictures.explore import ExplorerServer, export_explorer
from vaelab.pictures.figures import plot_run
from vaelab.pictures.samples import write_samples
from vaelab.training.loop import train


@pytest.fixture(scope="module")
def blobs(tmp_path_factory) -> tuple:
    """A run trained on tensors given from Python, named 'blobs', not a path."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (48, 1, 8, 8), generator=generator, dtype=torch.uint8)
    labels = torch.arange(48) % 2
    data = ImageData("blobs", ("a", "b"), images[:40], labels[:40], images[40:], labels[40:])
    config = RunConfig(ModelConfig(hidden_dims=(8,)), DataConfig(dataset="blobs"),
                       TrainConfig(epochs=1, batch_size=8))
    run = train(config, tmp_path_factory.mktemp("blobs") / "run", data=data, progress=False)
    return run, data


def test_a_config_is_loaded_from_a_path_only_and_a_run_folder_will_do(blobs, tmp_path):
    """RunConfig.load(0) read stdin and closed it; a run's folder was refused as 'a folder,
    not a config file', where the file's own errors said to give one."""
    run, _ = blobs
    read, write = os.pipe()
    os.close(write)  # nothing to wait for, where it would be read
    try:
        with pytest.raises(VaelabError, match=r"^RunConfig\.load takes a run's folder or its "
                                              r"config\.json \(a str or Path\), not int$"):
            RunConfig.load(read)
        os.fstat(read)  # still open
    finally:
        os.close(read)
    assert RunConfig.load(run.path) == RunConfig.load(run.path / "config.json") == run.config
    with pytest.raises(VaelabError, match=r"config\.json: no such file; is this a vaelab run "):
        RunConfig.load(tmp_path)


def test_tensors_given_as_data_keep_their_name(blobs):
    """Trained on ImageData('blobs'), a run recorded the dataset as ./blobs, a folder that
    never was, and its errors then sent the user looking for it."""
    run, data = blobs
    assert run.config.data.dataset == "blobs"
    with pytest.raises(VaelabError, match=r"^the run learnt from images given as data= \(blobs\)"
                                          r", which vaelab cannot load by their name; pass the "
                                          r"same data= again$"):
        plot_run(run, out_dir=run.path.parent / "figs")
    assert "latent" in plot_run(run, data, out_dir=run.path.parent / "figs", progress=False)


def test_arguments_of_the_wrong_type_are_one_line(blobs, tmp_path):
    run, _ = blobs
    for call, said in (
            (lambda: load_dataset(5), "load_dataset takes a dataset's name or path (a str or "
                                      "Path), not int"),
            (lambda: load_dataset(None), "load_dataset takes a dataset's name or path (a str "
                                         "or Path), not NoneType"),
            (lambda: plot_run(run, out_dir=5), "out_dir names a folder (a str or Path), not int"),
            (lambda: write_samples(run, 5), "write_samples takes the path of the PNG to write "
                                            "(a str or Path), not int"),
            (lambda: export_explorer(run, 5), "path names a file (a str or Path), not int"),
            (lambda: ExplorerServer("80"), "the port is a whole number from 1 to 65535, or 0 "
                                           "for any free port, not '80'"),
            (lambda: DiagonalGaussian(torch.zeros(3, 2), torch.zeros(3, 4)),
             "DiagonalGaussian: mean and logvar are of one shape, not (3, 2) and (3, 4)")):
        with pytest.raises(VaelabError) as info:
            call()
        assert str(info.value) == said
    from vaelab import resume  # as load_run and plot_run say it, not 'config.json: no such file'
    with pytest.raises(VaelabError, match=rf"^{re.escape(str(tmp_path / 'nope'))}: no such run "
                                          rf"folder$"):
        resume(tmp_path / "nope")
    with pytest.raises(VaelabError, match=r"^ImageData: test_images holds no image; "):
        ImageData("empty", (), np.zeros((3, 1, 4, 4)), None, np.zeros((0, 1, 4, 4)), None)
    assert not any(tmp_path.iterdir())
    with pytest.raises(VaelabError, match=r"not ndarray of shape \(3,\); make one of arrays"):
        plot_run(run, np.zeros(3), out_dir=tmp_path / "figs")


def test_a_comparison_says_where_it_saved_and_not_among_a_runs_files(blobs, tmp_path):
    """Comparison.save returned None, and wrote compare.md and compare.csv into a run's own
    folder without a word."""
    from vaelab.measuring.comparing import Comparison
    from vaelab.measuring.evaluation import evaluate_run

    run, data = blobs
    card = evaluate_run(run, data, k=2, samples=1, judge=None, progress=False)
    comparison = Comparison([card, card])
    with pytest.raises(VaelabError, match=r"run is a run's folder, among whose files the "
                                          r"comparison would lie; save it in a folder of its own"):
        comparison.save(run.path)
    assert not (run.path / "compare.md").exists()
    saved = comparison.save(tmp_path / "cmp")
    assert saved == {"markdown": tmp_path / "cmp" / "compare.md",
                     "csv": tmp_path / "cmp" / "compare.csv"}
    assert saved["markdown"].read_text() == comparison.markdown()


def test_messages_name_options_as_their_caller_spells_them(blobs, tmp_path, caplog, capsys):
    """From Python, errors and warnings said 'choose another --out', 'give a smaller
    --batch-size or more --epochs', 'use --device cpu': options a script cannot type."""
    import logging

    from conftest import run_cli

    run, data = blobs
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        train(run.config, tmp_path / "few", data=data, progress=False)
    assert any(m.endswith("too few for the model to learn much; give a smaller batch_size or "
                          "more epochs") for m in caplog.messages), caplog.messages
    with pytest.raises(VaelabError, match=r"among whose files these figures would lie; choose "
                                          r"another out_dir$"):
        plot_run(run, data, out_dir=tmp_path / "few")
    with pytest.raises(VaelabError, match=r"^device 'cuda': CUDA is not available here; use "
                                          r"device='cpu'$"):
        train(run.config, tmp_path / "gpu", data=data, progress=False, device="cuda")
    # the same, said by the command line: as flags, and as Python again after it
    code, _, err = run_cli(["train", "--resume", str(run.path), "--device", "cuda", "-q"],
                           capsys)
    assert code == 2 and err.endswith("CUDA is not available here; use --device cpu\n"), err
    with pytest.raises(VaelabError, match=r"use device='cpu'$"):
        train(run.config, tmp_path / "gpu", data=data, progress=False, device="cuda")


def test_help_on_a_config_names_each_field_with_its_type_default_and_meaning():
    """help(vaelab.TrainConfig) showed the command line's annotations in its signature, such
    as "Annotated[int | None, alias('-k', ...)]", and said nothing of any field."""
    import inspect
    import pydoc

    signature = str(inspect.signature(TrainConfig))
    assert signature.startswith("(epochs: int = 20, batch_size: int = 128, lr: float = 0.001")
    assert "k: int | None = None" in signature and "Annotated" not in signature
    shown = pydoc.render_doc(TrainConfig, renderer=pydoc.plaintext)
    assert "kl_warmup: int = 0\n |          Epochs over which the KL weight rises linearly " \
           "from 0 to beta (0: none)." in shown
    for config in (ModelConfig, DataConfig, TrainConfig):  # every field, and its meaning
        doc = config.__init__.__doc__
        for field in dataclasses.fields(config):
            line = next(line for line in doc.splitlines() if line.startswith(f"{field.name}:"))
            meaning = doc.splitlines()[doc.splitlines().index(line) + 1]
            assert meaning.startswith("    ") and len(meaning.strip()) > 10, (config, field)


def test_a_mistyped_dataset_is_still_an_unknown_dataset(capsys):
    """Taking names that are neither registered nor paths for tensors given as data= made
    'vaelab train --dataset mnsit' say the run learnt from images given as data=."""
    from conftest import run_cli

    with pytest.raises(VaelabError, match=r"^unknown dataset 'mnsit' \(did you mean mnist\?\)"):
        train(RunConfig(data=DataConfig(dataset="mnsit")), progress=False)
    code, _, err = run_cli(["train", "--dataset", "mnsit", "-q"], capsys)
    assert code == 2 and err.startswith("vaelab: error: unknown dataset 'mnsit' (did you mean "
                                        "mnist?)"), err


def test_a_port_may_be_numpys_integer():
    with ExplorerServer(np.int64(0)) as server:
        assert server.server_port > 0


def test_a_notebook_shows_an_error_as_the_callers_own_lines_and_vaelabs_one_line(tmp_path,
                                                                                  monkeypatch):
    """Jupyter showed a wrong path to load_run as 24 lines of vaelab's own frames above the
    one line that says what to do; IPython now shows the caller's frames and that line."""
    import vaelab
    from vaelab.training.stopping import Interrupted

    with pytest.raises(VaelabError) as info:
        vaelab.load_run(tmp_path / "nope")
    lines = info.value._render_traceback_()
    assert lines[-1] == f"VaelabError: {info.value}" and "nope" in lines[-1]
    assert any(os.path.basename(__file__) in line for line in lines)  # this test's own line
    package = os.path.dirname(vaelab.__file__)
    assert not any(package in line for line in lines), lines
    try:
        raise Interrupted()
    except Interrupted as err:  # a notebook's interrupt in training: the same, its one line
        assert err._render_traceback_()[-1] == "Interrupted: Ctrl-C"
    # IPython's own frame (its run_code) left out too; a cell's code, of a file named
    # "<ipython-input-1>", kept; and the error that the one shown was raised in
    shell = tmp_path / "IPython"
    shell.mkdir()
    (shell / "__init__.py").write_text("def run_code(code, names):\n    exec(code, names)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "IPython", None)  # so that the stand-in goes after the test
    del sys.modules["IPython"]
    import IPython  # a stand-in, where IPython is not installed

    cell = compile("try:\n    int('x')\nexcept ValueError:\n    vaelab.load_run(nope)\n",
                   "<ipython-input-1>", "exec")
    with pytest.raises(VaelabError) as info:
        IPython.run_code(cell, {"vaelab": vaelab, "nope": tmp_path / "nope"})
    lines = info.value._render_traceback_()
    assert not any(line.endswith(", in run_code") or str(shell) in line for line in lines)
    assert '  File "<ipython-input-1>", line 2, in <module>' in lines  # int('x')
    assert '  File "<ipython-input-1>", line 4, in <module>' in lines  # load_run
    assert lines.index("ValueError: invalid literal for int() with base 10: 'x'") < lines.index(
        "During handling of the above exception, another exception occurred:")


def test_a_stopped_or_finished_run_names_the_call_that_goes_on_from_python(blobs, tmp_path,
                                                                           capsys, caplog):
    """A notebook's interrupted cell was told to go on with `vaelab train --resume RUN`, which
    cannot load images given as data=; a cell run again on a finished run was told to continue
    it with vaelab.resume(), which then had nothing to train."""
    from vaelab.cli import main
    from vaelab.training.stopping import go_on, start_again

    run, data = blobs
    blob = DataConfig(dataset="blobs")
    assert go_on(tmp_path / "r", 1, blob) == (
        f"vaelab.resume({str(tmp_path / 'r')!r}, data=...) with the data= it learnt from "
        f"(blobs)")
    assert go_on(tmp_path / "r", 1, DataConfig()) == f"vaelab.resume({str(tmp_path / 'r')!r})"
    assert go_on(tmp_path / "r", 1, blob, ", data_dir='d'") == (  # the call's own keywords
        f"vaelab.resume({str(tmp_path / 'r')!r}, data_dir='d', data=...) with the data= it "
        f"learnt from (blobs)")
    assert go_on(tmp_path / "r", 2, blob) == f"torchrun --nproc-per-node 2 -m vaelab train " \
                                               f"--resume {tmp_path / 'r'}"
    assert start_again(tmp_path / "r", 1, blob) == (
        f"vaelab.train(vaelab.RunConfig.load({str(tmp_path / 'r')!r}), "
        f"{str(tmp_path / 'r-2')!r}, data=...) with the data= it learnt from (blobs)")
    from vaelab import resume

    with caplog.at_level(logging.WARNING, logger="vaelab"):  # 'epochs= N' it said
        resume(shutil.copytree(run.path, tmp_path / "again"), data=data, progress=False)
    assert any(m.endswith("already has 1 epoch; nothing to train (epochs=N goes further)")
               for m in caplog.messages), caplog.messages
    with pytest.raises(VaelabError, match=re.escape(
            f"{run.path} already holds a run that finished its epochs; choose another out, open "
            f"it with vaelab.load_run({str(run.path)!r}), or train it further with "
            f"vaelab.resume({str(run.path)!r}, epochs=N)")):
        train(run.config, run.path, data=data, progress=False)
    unfinished = shutil.copytree(run.path, tmp_path / "unfinished")  # set 3 epochs, 1 done
    longer = dataclasses.replace(run.config, train=dataclasses.replace(run.config.train,
                                                                       epochs=3))
    longer.save(unfinished / "config.json")
    with pytest.raises(VaelabError, match=re.escape(
            f"; choose another out or continue it with vaelab.resume({str(unfinished)!r})")):
        train(run.config, unfinished, data=data, progress=False)
    finished = shutil.copytree(run.path, tmp_path / "finished")  # from the command line
    assert main(["train", "-o", str(finished), "--epochs", "1"]) == 2
    assert capsys.readouterr().err == (
        f"vaelab: error: {finished} already holds a run that finished its epochs; choose "
        f"another --out, or train it further with --resume {finished} --epochs N\n")
