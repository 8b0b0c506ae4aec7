"""Every mistake on the command line is one line in vaelab's words, with exit status 2: unknown
options and choices (naming the valid ones), missing arguments (by their placeholder, never a
field's name), a folder that is not a run folder, and data that is missing offline."""

import contextlib
import os
from types import SimpleNamespace

import pytest
import requests

from conftest import run_cli
from vaelab.errors import VaelabError


def _one_line(code, err):
    assert code == 2
    assert err.startswith("vaelab: error: ") and err.count("\n") == 1, err
    for artefact in ("╭", "│", "For full helptext", "run-dir", "run_dir", "Traceback"):
        assert artefact not in err, err
    return err.removeprefix("vaelab: error: ").rstrip("\n")


PARSE_ERRORS = [
    (["train", "--model", "nosuchmodel"], "--model 'nosuchmodel' is not one of: ae, vae, cvae"),
    (["train", "--loss", "l1"], "--loss 'l1' is not one of: sse, bce, gaussian, logistic"),
    (["classifier", "fit"], "vaelab classifier: 'fit' is not one of: train, show"),
    (["train", "--model", "vea"], "--model 'vea' is not one of: ae, vae, cvae (did you mean "
                                  "vae?)"),
    (["classifier", "shw"], "vaelab classifier: 'shw' is not one of: train, show (did you "
                            "mean show?)"),
    (["explore", "RUN", "--bogus"], "vaelab explore has no option --bogus; vaelab explore "
                                    "--help lists them"),
    (["train", "--epoch", "3"], "vaelab train has no option --epoch (did you mean --epochs?)"),
    (["plot"], "vaelab plot needs RUN (the run folder); see vaelab plot --help"),
    (["classifier"], "vaelab classifier needs train|show (train: fit it"),
    (["plot", "a", "b"], "vaelab plot: unexpected argument 'b'; see vaelab plot --help"),
    (["demo", "--", "--epochs", "3"], "vaelab demo: after '--' every word is an argument, not "
                                      "an option; put --epochs before the '--'"),
    (["demo", "--", "--help"], "vaelab demo: after '--' every word is an argument"),
    (["nosuch"], "unknown command 'nosuch'; choose one of: train, plot, sample, demo, eval, "
                 "compare, classifier, explore"),
    (["evl", "run"], "unknown command 'evl' (did you mean eval?); choose one of: train, plot, "),
    ([], "no command given; choose one of: train, plot"),
    (["--quiet", "train"], "unknown option --quiet (options come after the command"),
    (["train", "--epochs", "abc"], "--epochs takes a whole number, not 'abc'"),
    (["train", "--epochs", "3", "--epochs", "abc"], "--epochs takes a whole number, not 'abc'"),
    (["train", "--epoc", "3"], "vaelab train has no option --epoc (did you mean --epochs?)"),
    (["train", "--lr=fast"], "--lr takes a number, not 'fast'"),
    (["eval", "r", "-k", "2.5"], "-k takes a whole number, not '2.5'"),
    (["train", "--hidden-dims", "wide"], "--hidden-dims takes whole numbers, not 'wide'"),
    # every value of a flag that takes several, not its first, which was fine
    (["train", "--hidden-dims", "256", "128", "x", "-o", "d"],
     "--hidden-dims takes whole numbers, not '256 128 x'"),
    (["plot", "r", "--between", "1", "2", "3"], "--between takes LABEL LABEL, not '1 2 3'"),
    (["sample", "r", "-n"], "-n needs a value: a whole number"),
    (["train", "--noise"], "--noise needs a value: none|gaussian:STD|mask:SHARE; see vaelab "
                           "train --help"),
]


@pytest.mark.parametrize(("args", "message"), PARSE_ERRORS)
def test_a_command_line_that_does_not_parse_is_one_line(args, message, capsys):
    said = _one_line(*run_cli(args, capsys)[::2])
    assert said.startswith(message), said


@pytest.mark.parametrize(("args", "words"), [
    (["train", "--model", "nosuchmodel"], ["nosuchmodel", "vaelab train --help"]),
    (["explore", "RUN", "--bogus"], ["--bogus", "vaelab explore --help"]),
    (["plot"], ["RUN", "vaelab plot --help"]),
])
def test_without_the_hook_tyros_own_words_are_still_one_line(args, words, capsys, monkeypatch):
    """A tyro whose error events vaelab does not know: its panel, cut down to one line."""
    monkeypatch.setattr("vaelab.cli.parsing._hooked", lambda hook: contextlib.nullcontext())
    said = _one_line(*run_cli(args, capsys)[::2])
    for word in words:
        assert word in said, said


@pytest.mark.parametrize(("args", "message"), [
    (["plot", "no/such/run"], "no/such/run: no such run folder"),
    (["eval", "a-file"], "a-file: a file, not a run folder"),
    (["sample", "empty"], "empty: not a vaelab run folder (it has no config.json"),
    (["explore", "empty", "-q"], "empty: not a vaelab run folder"),
    (["compare", "empty", "no/such/run"], "empty: not a vaelab run folder"),
    (["train", "--resume", "empty"], "empty: not a vaelab run folder"),
    (["train", "--config", "empty"], "empty: not a vaelab run folder"),
    (["train", "--config", "none.json"], "none.json: no such file or folder; --config takes"),
    (["train", "--config", "a-file"], "a-file: not valid JSON"),
    (["train", "--resume", "empty", "--config", "empty"], "--resume goes on with a run, "),
])
def test_a_folder_that_is_not_a_run_is_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("not a run")
    said = _one_line(*run_cli(args, capsys)[::2])
    assert said.startswith(message), said


@pytest.mark.parametrize(("args", "message"), [
    (["plot", "run", "-o", "a-file/figures"], "a-file is not a folder, so a-file/figures "
                                               "cannot be made; choose another --out"),
    (["plot", "run", "-o", "a-file"], "a-file is a file; --out names a folder"),
    (["sample", "run", "-o", "a-file/s.png"], "a-file is not a folder, so a-file/s.png cannot "
                                               "be written; choose another --out"),
    (["sample", "run", "-o", "folder"], "folder is a folder; --out names the file to write, "
                                        "such as folder/samples.png"),
    (["train", "-o", "a-file/deeper/run"], "a-file is not a folder, so a-file/deeper/run "
                                            "cannot be made; choose another --out"),
    (["train", "-o", "a-file"], "a-file is a file; --out names a folder"),
    (["demo", "-o", "a-file/demo"], "a-file is not a folder, so a-file/demo cannot be made; "
                                    "choose another --out"),
])
def test_an_out_that_cannot_be_written_is_one_line_before_any_work(args, message, capsys,
                                                                   tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    import vaelab.demo  # noqa: F401  # imported now, not while load_run is the fake below
    for where in ("vaelab.training.runs.load_run", "vaelab.demo.load_dataset",
                  "vaelab.training.loop.load_for"):
        monkeypatch.setattr(where, lambda *a, **k: pytest.fail("worked before the check"))
    said = _one_line(*run_cli(args, capsys)[::2])
    assert said == message, said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "folder"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="no /proc, where no file is made")
def test_an_out_in_a_folder_that_is_not_writable_is_one_line(capsys):
    said = _one_line(*run_cli(["train", "-o", "/proc/vaelab-run"], capsys)[::2])
    assert said == "/proc is not writable; choose another --out"


def test_a_taken_folder_is_told_to_go_on_only_by_the_command_that_can(tmp_path):
    """A run's folder names train's --resume; to compare (resume=None) or to a demo, whose
    own folders hold demo.json, it is only taken."""
    from vaelab.errors import spoken_on_the_command_line
    from vaelab.training.folders import check_new_run_dir

    (tmp_path / "checkpoint.safetensors").write_bytes(b"")
    with pytest.raises(VaelabError, match=r"or continue it with vaelab\.resume\('"):
        check_new_run_dir(tmp_path)  # from Python
    before = spoken_on_the_command_line(True)
    try:
        with pytest.raises(VaelabError, match=r"or continue it with --resume "):
            check_new_run_dir(tmp_path)
        for resume in (None, ("demo.json", "vaelab demo --resume")):
            with pytest.raises(VaelabError, match=r"not empty; choose another --out$"):
                check_new_run_dir(tmp_path, resume=resume)
    finally:
        spoken_on_the_command_line(before)


def test_missing_data_offline_is_one_line_that_says_where_to_put_it(tmp_path, monkeypatch,
                                                                   capsys):
    """No $VAELAB_DATA, an empty user cache, no network: no download chatter, one line."""
    attempts = []

    def offline(url, **options):
        attempts.append(options["downloader"].progressbar)
        raise requests.ConnectionError(f"HTTPSConnectionPool: Max retries exceeded with url: "
                                       f"{url} (Caused by NameResolutionError)")

    monkeypatch.setattr("pooch.retrieve", offline)
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                  "ALL_PROXY"):  # with one, the line names it: "through the proxy ...?"
        monkeypatch.delenv(proxy, raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: cache)
    monkeypatch.setattr("vaelab.data.sources.SYSTEM_ROOT", tmp_path / "system")
    said = _one_line(*run_cli(["train", "--epochs", "1", "-o", str(tmp_path / "run")], capsys)[::2])
    assert said.startswith(f"mnist not found (looked in {cache / 'mnist'}, "
                           f"{tmp_path / 'system' / 'mnist'}) and no mirror served "
                           f"train-images-idx3-ubyte.gz: could not reach any of its 3 mirrors "
                           f"(no network?). Put the four files (train-images-idx3-ubyte.gz, ")
    assert said.endswith(f"in {cache / 'mnist'}, or set VAELAB_DATA to a folder that holds "
                         f"mnist/")
    assert "Max retries" not in said
    assert attempts == [False] * 3  # three mirrors, and no download bar off a terminal
    assert not (cache / "mnist").exists() and not (tmp_path / "run").exists()


def test_a_flag_of_another_architecture_is_refused_not_ignored(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("vaelab.training.loop.train", lambda *a, **k: pytest.fail("trained"))
    said = _one_line(*run_cli(["train", "--channels", "16", "32"], capsys)[::2])
    assert said == ("--channels sets the widths of a conv net's layers, and this is an mlp; "
                    "drop --channels or add --arch conv")
    assert not list(tmp_path.iterdir())


def test_a_saved_settings_files_widths_are_not_taken_for_a_flag(capsys, tmp_path, monkeypatch):
    """A dense run's config.json may hold conv widths (older vaelab took --channels with --arch
    mlp): --config starts from it without a word about a flag the user did not give."""
    import json

    monkeypatch.chdir(tmp_path)
    trained = []

    def train(config, out, **options):
        trained.append(config)
        return SimpleNamespace(path=out)

    monkeypatch.setattr("vaelab.training.loop.train", train)
    settings = {"model": {"arch": "mlp", "channels": [4, 8]}}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    said = _one_line(*run_cli(["train", "--config", "settings.json", "--channels", "16"],
                              capsys)[::2])
    assert said.startswith("--channels sets the widths of a conv net's layers"), said
    code, _, err = run_cli(["train", "--config", "settings.json", "-o", "run", "--no-plots"],
                           capsys)
    assert code == 0, err
    assert [config.model.channels for config in trained] == [(4, 8)]


def test_a_demo_into_a_demos_folder_is_told_to_resume_it(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("vaelab.demo.load_dataset", lambda *a, **k: pytest.fail("loaded"))
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "demo.json").write_text("{}")
    said = _one_line(*run_cli(["demo", "-o", "old"], capsys)[::2])
    assert said == ("old already exists and is not empty; choose another --out or continue it "
                    "with vaelab demo --resume old")


@pytest.mark.parametrize("out", [["-o", "mine"], []])
def test_a_demo_whose_settings_do_not_fit_its_data_leaves_nothing(capsys, tmp_path, monkeypatch,
                                                                   tiny, out):
    """A CVAE on images without labels: it wrote demo.json first, and the folder could then
    be neither used again nor resumed."""
    import dataclasses

    monkeypatch.chdir(tmp_path)
    unlabelled = dataclasses.replace(tiny, classes=())  # labels but no class names: none
    monkeypatch.setattr("vaelab.demo.load_dataset", lambda *a, **k: unlabelled)
    said = _one_line(*run_cli(["demo", "--models", "vae", "cvae", "--epochs", "1", *out],
                              capsys)[::2])
    assert said.startswith("a CVAE learns from labels")
    assert list(tmp_path.iterdir()) == []


def test_a_librarys_warning_is_one_line_and_the_fonts_once(capsys, tmp_path):
    """Pillow's of a large image, matplotlib's of each character that its font lacks: Python
    printed each as two lines, one of them the library's source. The command puts back the
    caller's way of showing warnings when it ends."""
    import warnings

    from vaelab import cli

    before = warnings.showwarning
    assert run_cli(["plot", str(tmp_path / "none")], capsys)[0] == 2
    assert warnings.showwarning is before
    cli._missing_glyphs.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        cli._log_to_stderr(quiet=True)
        warnings.showwarning = cli._warning_line
        warnings.warn("Image size (90250000 pixels) exceeds limit", UserWarning, stacklevel=1)
        for glyph in (26085, 26412):
            warnings.warn(f"Glyph {glyph} missing from font(s) DejaVu Sans.", UserWarning,
                          stacklevel=1)
    assert capsys.readouterr().err.splitlines() == [
        "vaelab: UserWarning: Image size (90250000 pixels) exceeds limit",
        "vaelab: some characters in the figures are not in their font: they show as boxes"]


def test_running_out_of_memory_is_one_line_that_says_what_to_shrink(capsys, tmp_path,
                                                                   monkeypatch):
    """`vaelab train --hidden-dims 65536 65536` on a laptop ended in 40 lines of traceback
    from PyTorch's allocator."""
    monkeypatch.chdir(tmp_path)
    said = ("[enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 17179869184 bytes. Error code 12 (Cannot allocate "
            "memory)")

    def train(*args, **options):
        raise RuntimeError(said)

    monkeypatch.setattr("vaelab.training.loop.train", train)
    code, _, err = run_cli(["train", "--hidden-dims", "65536", "65536", "-q"], capsys)
    assert code == 2
    assert _one_line(code, err) == ("this machine ran out of memory (one array asked for 16.0 "
                                    "GiB); try a new run with a smaller --batch-size, "
                                    "--hidden-dims or --latent-dims")
    from vaelab.cli import out_of_memory

    # Each command's advice is what it can make smaller
    assert out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                         "eval") == ("the device ran out of memory (one array asked for 2.00 "
                                     "GiB); try a smaller --chunk, or use --device cpu")
    assert out_of_memory(RuntimeError(said), "plot") == (
        "this machine ran out of memory (one array asked for 16.0 GiB); the run's model may be "
        "too large for it")
    assert out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"),
                         "train") is None
