import json
import logging
import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest

from conftest import run_cli


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["plot", "--help"],
                                  ["demo", "--help"], ["explore", "--help"]])
def test_help(args, capsys):
    code, out, _ = run_cli(args, capsys)
    assert code == 0
    assert "usage: vaelab" in out


COMMANDS = ["train", "plot", "sample", "demo", "eval", "compare", "classifier", "explore"]
REQUIRED = {"plot": ["r"], "sample": ["r"], "eval": ["r"], "explore": ["r"],
            "compare": ["r1", "r2"], "classifier": ["show"]}  # positionals of each command


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_shows_no_parser_artefacts(command, capsys):
    code, out, _ = run_cli([command, "--help"] if command else ["--help"], capsys)
    assert code == 0
    for artefact in ("{None}|", "(default: None)", "(default: )", "run-dir", "run_dir"):
        assert artefact not in out, (command, artefact)
    if command not in (None, "classifier"):
        assert "-q, --quiet" in out


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_fits_the_terminal_and_breaks_no_sentence(command, capsys, monkeypatch):
    """The description above the boxes came out as one line of 400 characters, and
    compare's broke wherever a source line began with '('."""
    from vaelab.cli.parsing import wrapped

    for columns in (80, 150):
        monkeypatch.setenv("COLUMNS", str(columns))
        _, out, _ = run_cli([command, "--help"] if command else ["--help"], capsys)
        assert max(len(line) for line in out.splitlines()) <= columns, (command, columns)
        assert not re.search(r"\w\n\s*│?\s*\(", out), command  # no line left before a '('
    # On a terminal tyro draws boxes, narrower than it at most: the text goes to their width,
    # and the boxes' own lines stay whole (their borders have no spaces to break at)
    box = ["╭─ options " + "─" * 129 + "╮", "│ -h " + " " * 134 + "│", "╰" + "─" * 139 + "╯"]
    text = " ".join(["word"] * 60)
    assert wrapped(["usage: x", "", text, "", *box], 150) == [
        "usage: x", "", *textwrap.wrap(text, 140), "", *box]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c in REQUIRED])
def test_help_after_the_positionals_is_the_whole_help(command, capsys):
    """tyro drops the positionals already given from the usage line and the list:
    `vaelab classifier train --help` showed no train|show."""
    _, plain, _ = run_cli([command, "--help"], capsys)
    _, after, _ = run_cli([command, *REQUIRED[command], "-q", "--help"], capsys)
    assert after == plain
    assert "positional arguments" in after


def test_help_texts_are_whole_paragraphs():
    """A field's docstring spans several source lines; --help must wrap it as one paragraph
    to the terminal's width, not break it where the source does."""
    import dataclasses
    import re
    import typing

    from tyro._docstrings import get_field_docstring

    import vaelab.cli.parsing  # noqa: F401  (it sets how tyro reads docstrings)
    from vaelab.cli.commands import COMMANDS as KINDS

    broken, kinds, seen = [], list(KINDS.values()), set()
    while kinds:  # the commands and the settings they hold (RunConfig, ModelConfig, ...)
        kind = kinds.pop()
        seen.add(kind)
        hints = typing.get_type_hints(kind, include_extras=True)
        for field in dataclasses.fields(kind):
            text = get_field_docstring(kind, field.name, ()) or ""
            if re.search(r"(?<!\n)\n(?!\n)", text):  # a line break inside a paragraph
                broken.append(f"{kind.__name__}.{field.name}")
            inner = typing.get_args(hints[field.name])[:1] or (hints[field.name],)
            if dataclasses.is_dataclass(inner[0]) and inner[0] not in seen:
                kinds.append(inner[0])
    assert len(seen) > len(KINDS) and not broken


def test_help_says_what_the_defaults_and_the_actions_are(capsys):
    def help_of(*args):
        _, out, _ = run_cli([*args, "--help"], capsys)
        return " ".join(out.split())  # as one line, whatever the terminal's width

    assert "-V, --version" in help_of()
    for text in ("-o DIR, --out DIR", "runs/<model>-<dataset>", "--config RUN|JSON",
                 "not how many more", "--resume RUN", "--train-subset N", "(default: all)",
                 "--device DEVICE", "(default: auto)"):
        assert text in help_of("train"), text
    assert "-k INT, --k INT" in help_of("eval") and "(default: 1000)" in help_of("eval")
    for text in ("usage: vaelab compare", "RUN [RUN ...]", "-k INT, --k INT", "--samples INT",
                 "--split {test,train}", "-o DIR, --out DIR"):
        assert text in help_of("compare"), text
    assert "train: fit it to --dataset" in help_of("classifier")
    assert "show: name it" in help_of("classifier")
    assert "-o FILE, --export FILE, --out FILE" in help_of("explore")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_q_for_quiet(command):
    from vaelab.cli.parsing import parse

    args = [command, *REQUIRED.get(command, [])]
    assert parse(args).quiet is False
    assert parse([*args, "-q"]).quiet is True
    assert parse([*args, "--quiet"]).quiet is True


@pytest.mark.parametrize(("args", "out"), [
    (["train", "-o", "x"], "x"), (["demo", "-o", "x"], "x"), (["plot", "r", "-o", "x"], "x"),
    (["sample", "r", "-o", "x.png"], "x.png"), (["compare", "a", "b", "-o", "x"], "x"),
    (["explore", "r", "-o", "x.html"], "x.html"), (["explore", "r", "--export", "x.html"],
                                                   "x.html"),
])
def test_out_is_where_every_command_writes_and_o_is_its_short_form(args, out):
    from pathlib import Path

    from vaelab.cli.parsing import parse

    assert parse(args).out == Path(out)


@pytest.mark.parametrize("args", [["train"], ["eval", "r"], ["compare", "a", "b"]])
def test_k_is_the_short_form_of_k_wherever_a_command_takes_it(args):
    from vaelab.cli.parsing import parse

    command = parse([*args, "-k", "7"])
    k = command.config.train.k if args[0] == "train" else command.k
    assert k == 7


def test_train_config_reruns_a_saved_runs_settings_and_flags_override(tmp_path):
    from vaelab.cli.parsing import parse
    from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    saved = RunConfig(ModelConfig(model="ae", latent_dims=3, hidden_dims=(64, 32)),
                      DataConfig(train_subset=100), TrainConfig(epochs=7, lr=3e-4))
    (tmp_path / "run").mkdir()
    saved.save(tmp_path / "run" / "config.json")
    saved.save(tmp_path / "settings.json")
    for source in ("run", "run/config.json", "settings.json"):
        command = parse(["train", "--config", str(tmp_path / source)])
        assert command.config == saved and command.out is None and command.resume is None
    command = parse(["train", "--config", str(tmp_path / "run"), "--epochs", "2", "-o", "new"])
    assert command.config.train.epochs == 2 and command.config.train.lr == 3e-4
    assert command.config.model == saved.model and str(command.out) == "new"


def test_compare_bounds_the_cost_of_measuring_runs_not_yet_measured(tmp_path, capsys,
                                                                    monkeypatch, tiny):
    from vaelab.config import ModelConfig, RunConfig, TrainConfig
    from vaelab.measuring.scorecard import load_scorecard
    from vaelab.training.loop import train

    small = TrainConfig(epochs=1, batch_size=64)
    for name in ("ae", "vae"):
        train(RunConfig(ModelConfig(model=name, hidden_dims=(32,)), train=small),
              tmp_path / name, data=tiny, progress=False)
    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *a, **k: tiny)
    code, _, err = run_cli(["compare", str(tmp_path / "ae"), str(tmp_path / "vae"), "-k", "3",
                           "--samples", "2", "--split", "train", "--seed", "7", "--chunk",
                           "40", "-o", str(tmp_path / "cmp"), "-q"], capsys)
    assert code == 0, err
    vae = load_scorecard(tmp_path / "vae", "train")
    assert (vae.k, vae.samples, vae.split, vae.seed) == (3, 2, "train", 7)  # the AE takes no k
    assert vae.chunk == 40  # what bounds the memory of the runs it measures
    assert load_scorecard(tmp_path / "ae", "train").k is None
    assert not (tmp_path / "vae" / "eval.json").exists()
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| evaluation seed | 7 | 7 |" in table, table
    assert "seed,7,,,7,," in (tmp_path / "cmp" / "compare.csv").read_text()
    # A saved evaluation is used again when nothing else is asked for, and measured again when
    # -k, --samples or --seed ask for other settings than it has: for the table alone, with
    # what is not asked for as the saved one had it; the run's own eval file is kept
    def compare(*options: str) -> tuple[str, str]:
        out = tmp_path / f"cmp{len(list(tmp_path.glob('cmp*')))}"
        code, _, err = run_cli(["compare", str(tmp_path / "ae"), str(tmp_path / "vae"),
                                "--split", "train", "-o", str(out), *options], capsys)
        assert code == 0, err
        return err, (out / "compare.md").read_text()

    assert "evaluating" not in compare()[0] and "evaluating" not in compare("-k", "3")[0]
    said, table = compare("-k", "4")
    assert f"evaluating {tmp_path / 'vae'} for this comparison alone (its eval.json, measured " \
           f"otherwise, is kept)" in said and f"evaluating {tmp_path / 'ae'}" not in said
    assert "k = 4" in table and "| evaluation seed | 7 | 7 |" in table, table  # seed as saved
    assert load_scorecard(tmp_path / "vae", "train").k == 3  # kept
    said, _ = compare("--samples", "3")  # the VAE's: an AE draws no codes
    assert said.count("evaluating") == 1 and f"evaluating {tmp_path / 'vae'}" in said, said
    # Checked before any work: no folder is left
    code, _, err = run_cli(["compare", str(tmp_path / "ae"), str(tmp_path / "vae"), "-k", "0",
                            "-o", str(tmp_path / "zero")], capsys)
    assert code == 2 and "-k must be a whole number from 1 to 100,000" in err
    assert not (tmp_path / "zero").exists()


def test_training_off_a_terminal_writes_plain_lines_and_q_silences_them(tmp_path, capsys,
                                                                       monkeypatch, tiny):
    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *a, **k: tiny)
    small = ["--model", "ae", "--hidden-dims", "32", "--epochs", "2", "--no-plots"]
    code, _, err = run_cli(["train", *small, "-o", str(tmp_path / "loud")], capsys)
    assert code == 0, err
    assert "\r" not in err and "\x1b" not in err
    assert [line.split("  ")[0] for line in err.splitlines() if " epoch " in line] == [
        "loud epoch 1/2", "loud epoch 2/2"]
    code, _, err = run_cli(["train", *small, "-q", "-o", str(tmp_path / "quiet")], capsys)
    assert code == 0 and " epoch " not in err


def test_a_kl_warm_up_longer_than_the_run_is_noted(tmp_path, capsys, monkeypatch, tiny,
                                                  caplog):
    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *a, **k: tiny)
    small = ["--hidden-dims", "32", "--epochs", "2", "--no-plots", "--beta", "4"]
    code, _, err = run_cli(["train", *small, "--kl-warmup", "8", "-o", str(tmp_path / "a")],
                           capsys)
    assert code == 0 and "the KL warm-up (8 epochs) outlasts the run (2)" in err
    assert "weighted 0.25 of its full weight" in err
    code, _, err = run_cli(["train", *small, "--kl-warmup", "8", "--beta", "0", "-o",
                            str(tmp_path / "zero")], capsys)
    assert code == 0 and "outlasts" not in err  # a KL weighted 0 is 0 throughout
    code, _, err = run_cli(["train", *small, "--kl-warmup", "2", "-o", str(tmp_path / "b")],
                           capsys)
    assert code == 0 and "warm-up" not in err
    # A warning, not an info line: a script's default logging shows it too
    from vaelab.config import ModelConfig, RunConfig, TrainConfig
    from vaelab.training.loop import train

    config = RunConfig(ModelConfig(hidden_dims=(32,)), train=TrainConfig(epochs=1, beta=4,
                                                                          kl_warmup=10))
    monkeypatch.setattr(logging.getLogger("vaelab"), "propagate", True)  # the CLI's turned off
    with caplog.at_level(logging.INFO, logger="vaelab"):
        train(config, tmp_path / "c", data=tiny, progress=False)
    said = [r for r in caplog.records if "the KL warm-up (10 epochs) outlasts" in r.message]
    assert said and {r.levelno for r in said} == {logging.WARNING}
    # A seed of binarized draws, where nothing is binarized, is said to be unused
    code, _, err = run_cli(["train", *small, "--binarize-seed", "3", "-o", str(tmp_path / "d")],
                           capsys)
    assert code == 0 and "--binarize-seed 3 is not used: the images are not binarized " \
                         "(--binarize none)\n" in err, err
    code, _, err = run_cli(["train", *small, "--binarize-seed", "3", "--binarize", "static",
                            "-o", str(tmp_path / "e")], capsys)
    assert code == 0 and "--binarize-seed" not in err, err


def test_help_lists_the_commands_and_the_tutorials_flags(capsys):
    _, out, _ = run_cli(["--help"], capsys)
    for command in ("train", "plot", "demo", "explore"):
        assert command in out
    _, out, _ = run_cli(["train", "--help"], capsys)
    for flag in ("--model", "--latent-dims", "--epochs", "--batch-size", "--lr", "--seed",
                 "--out", "--resume", "--device", "--quiet", "--loss", "--kl"):
        assert flag in out, flag


def test_console_script_and_module_entry_points():
    """Both end the process at once after the command (vaelab.cli.run), with its buffered
    output flushed onto the pipes, and its exit status; output that cannot be written is an
    error, not a silent success."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffer stdout
    for entry in (["vaelab"], [sys.executable, "-m", "vaelab"]):
        result = subprocess.run([*entry, "--version"], capture_output=True, text=True,
                                check=True, env=env)
        assert result.stdout.startswith("vaelab ")
        result = subprocess.run([*entry, "plot", "no/such/run"], capture_output=True,
                                text=True, env=env)
        assert result.returncode == 2
        assert result.stderr == "vaelab: error: no/such/run: no such run folder\n"
        if os.path.exists("/dev/full"):  # every write to it fails: no space left
            with open("/dev/full", "w") as full:
                result = subprocess.run([*entry, "--version"], stdout=full,
                                        stderr=subprocess.PIPE, text=True, env=env)
            assert result.returncode == 2
            assert result.stderr == ("vaelab: error: could not write the output (No space "
                                     "left on device)\n")


def test_the_version_is_said_once_under_torchrun(capsys, monkeypatch):
    """By rank 0 alone, as --help is: two processes printed it twice. A RANK outside
    torchrun (no WORLD_SIZE over 1) is no rank."""
    for size, rank, said in (("2", "1", ""), ("2", "0", "vaelab "), ("1", "1", "vaelab ")):
        monkeypatch.setenv("WORLD_SIZE", size)
        monkeypatch.setenv("RANK", rank)
        code, out, err = run_cli(["-V"], capsys)
        assert (code, out[:len("vaelab ")], err) == (0, said, ""), (size, rank)


def test_help_answers_without_loading_pytorch():
    code = ("import sys; from vaelab.cli import main\n"
            "try: main(['train', '--help'])\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--lr", "-1"], "error: --lr must be a finite positive number, got -1\n"),
    (["train", "--latent-dims", "0"], "error: --latent-dims must be a whole number"),
    (["train", "--checkpoint-every", "5x"], "error: --checkpoint-every '5x' is not one of"),
    (["train", "--model", "ae", "--kl", "tutorial", "--beta", "2.5"],
     "AE model has no posterior, so no KL term, no IWAE bound and no draws: drop --beta 2.5, "
     "--kl tutorial (where --config brings them, give --beta 1 --kl closed-form), or choose "
     "--model vae\n"),
    (["train", "--model", "ae", "-k", "3"], "no draws: drop -k 3 (where --config brings them, "
                                            "give -k 1), or choose --model vae\n"),
    (["train", "--model", "ae", "--beta", "1e300"], "draws: drop --beta 1e+300 (where"),
    (["classifier", "show", "--epochs", "99", "--force"], "classifier show names the "
     "classifier there is, and trains none: drop --epochs 99 --force (for classifier train)\n"),
    (["plot", "no/such/run"], "no/such/run: no such run folder"),
    (["explore", "no/such/run"], "no/such/run: no such run folder"),
    (["explore", "a-file", "--export", "page.html"], "a-file: a file, not a run folder"),
    (["train", "--resume", "no/such/run"], "no/such/run: no such run folder"),
    (["train", "--device", "cuda:7"], "device 'cuda:7'"),
    (["demo", "--epochs", "0"], "error: --epochs must be a whole number"),
    (["train", "--out", "a-file/run"], "a-file is not a folder, so a-file/run cannot be"),
    (["train", "--hidden-dims", "0"], "--hidden-dims: every width must be a whole number"),
    (["train", "--objective", "iwae", "--kl-warmup", "3"], "no --beta, --kl-warmup or --kl"),
    # an AE, which has no posterior, hears in the same line that the bound is not for it
    (["train", "--model", "ae", "--objective", "iwae", "--beta", "4"],
     "error: the iwae objective is a bound on log p(x) for a model with a posterior (vae, "
     "cvae): it takes no --beta"),
    (["train", "--train-subset", "999999", "-o", "big"], "--train-subset is 999999, but"),
    (["train", "-k"], "-k needs a value: a whole number;"),
    (["train", "-k", "0"], "error: -k must be a whole number from 1"),
    (["train", "--noise", "lr_schedule"], "--noise 'lr_schedule' is not one of"),
    (["sample", "no/such/run", "-n", "0"], "-n must be a whole number from 1 to 10,000"),
    (["sample", "no/such/run", "--seed", "-1"], "--seed must be a whole number from 0"),
    (["eval", "no/such/run", "--seed", "-1"], "--seed must be a whole number from 0"),
    (["compare", "no/such/run", "r2", "--seed", "-1"], "--seed must be a whole number from 0"),
    (["classifier", "train", "--epochs", "0"], "--epochs must be a whole number from 1"),
])
def test_bad_input_gets_one_line(args, message, capsys, tmp_path, monkeypatch, tiny):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *a, **k: tiny)
    code, _, err = run_cli(args, capsys)
    assert code == 2
    assert err.startswith("vaelab: error: ")
    assert err.count("\n") == 1, err
    assert message in err


@pytest.fixture
def data_env(data_root, monkeypatch):
    monkeypatch.setenv("VAELAB_DATA", str(data_root))


CHANGED = [  # every setting a run keeps, given anew: (flag, a value other than the default)
    ("--model", "ae"), ("--latent-dims", "3"), ("--hidden-dims", "64"), ("--activation", "tanh"),
    ("--arch", "conv"), ("--channels", "8"), ("--loss", "bce"), ("--dataset", "fashion-mnist"),
    ("--image-size", "32"), ("--test-fraction", "0.2"), ("--split-seed", "1"),
    ("--train-subset", "100"), ("--binarize", "dynamic"), ("--binarize-seed", "1"),
    ("--batch-size", "64"), ("--lr", "0.01"), ("--adam-eps", "0.0001"), ("--seed", "1"),
    ("--output-bias", "data-mean"), ("--kl", "tutorial"), ("--beta", "4"), ("--kl-warmup", "2"),
    ("--objective", "iwae"), ("-k", "5"), ("--lr-schedule", "cosine"), ("--noise", "mask:0.5"),
    ("--grad-clip", "100"), ("--precision", "bf16")]


def test_the_changed_settings_cover_every_setting_a_run_keeps():
    """Every setting with a flag, that is: not those vaelab records from the data."""
    from typing import get_args, get_type_hints

    import tyro

    from vaelab.config import DataConfig, ModelConfig, TrainConfig

    flagged = {name for section in (ModelConfig, DataConfig, TrainConfig)
               for name, hint in get_type_hints(section, include_extras=True).items()
               if tyro.conf.Suppress not in get_args(hint)[1:]}
    given = {flag.lstrip("-").replace("-", "_") for flag, _ in CHANGED} | {"likelihood", "epochs"}
    assert flagged == given - {"loss"}


@pytest.mark.parametrize(("flag", "value"), CHANGED)
def test_resume_refuses_any_setting_of_the_run_given_anew(flag, value, tmp_path, capsys):
    """Only --epochs may change: --lr or --beta given to --resume was not refused, and the
    run went on with its own, as if they had not been given."""
    from vaelab.config import RunConfig, TrainConfig

    run = tmp_path / "run"
    run.mkdir()
    RunConfig(train=TrainConfig(epochs=1)).save(run / "config.json")
    code, _, err = run_cli(["train", "--resume", str(run), "--epochs", "2", flag, value], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "only --epochs may change; these differ from the run's: " in err
    assert f"{flag} " in err.split("differ from the run's: ")[1], err


def test_train_resume_and_plot(data_env, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    small = ["--train-subset", "256", "--hidden-dims", "32", "--batch-size", "64"]
    code, _, err = run_cli(["train", "--model", "ae", "--epochs", "1", "--out", str(run), "--quiet",
                         "--no-plots", *small], capsys)
    assert code == 0, err
    assert f"run folder: {run}" in err
    assert not (run / "figures").exists() and not (run / "index.html").exists()

    code, _, err = run_cli(["train", "--resume", str(run), "--epochs", "2", "--quiet"], capsys)
    assert code == 0, err
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert (run / "figures" / "latent.png").exists() and (run / "index.html").exists()

    code, _, err = run_cli(["train", "--resume", str(run), "--epochs", "3", "--latent-dims", "4",
                            "-k", "5", "--hidden-dims", "64", "32"], capsys)
    assert code == 2 and "only --epochs may change" in err and err.count("\n") == 1, err
    # In flags, as typed; the run's unset k as the draws it means
    assert "--latent-dims 2 -> 4" in err and "-k 1 -> 5" in err, err
    assert "--hidden-dims 32 -> 64 32" in err, err

    code, _, err = run_cli(["train", "--out", str(run), "--quiet"], capsys)
    assert code == 2 and "already holds a run that finished its epochs" in err  # a new run
    assert err.rstrip().endswith(f"or train it further with --resume {run} --epochs N"), err
    code, _, err = run_cli(["eval", str(run), "--samples", "0"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "error: --samples must be a whole number from 1 to 100,000, got 0" in err
    with monkeypatch.context() as patched:  # a folder it may not write: before measuring
        patched.setattr("vaelab.cli.measure.writable", lambda folder: str(folder) != str(run))
        patched.setattr("vaelab.measuring.evaluation.evaluate_run", None)  # never reached
        code, _, err = run_cli(["eval", str(run)], capsys)
    assert code == 2 and err == (f"vaelab: error: {run}: cannot be written, and eval.json goes "
                                 f"there; measure a copy of the run in a folder you may write "
                                 f"to\n")
    code, out, err = run_cli(["eval", str(run), "-k", "5", "--device", "cpu"], capsys)
    assert code == 0 and "NLL, importance-weighted bound" in out, err  # measured, no k
    assert f"vaelab: {run} is an AE: with no posterior it has no likelihood to bound, so k " \
           f"(-k) is not used\n" in err

    (run / "figures" / "latent.png").unlink()
    code, _, err = run_cli(["plot", str(run), "--device", "cpu"], capsys)
    assert code == 0, err
    assert (run / "figures" / "latent.png").exists()
    figures = len(list((run / "figures").glob("*.png")))  # the GIF is the strip's animation
    assert f"vaelab: {figures} figures in {run / 'figures'} (the interpolation as a PNG and a " \
           f"GIF); open {run / 'index.html'}" in err

    monkeypatch.chdir(tmp_path)  # a run named as a folder of one part, from beside it
    code, _, err = run_cli(["plot", "run", "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    assert '<th><span class="whole">run</span></th>' in (run / "index.html").read_text()

    code, _, err = run_cli(["plot", str(run), "--format", "svg", "--out", str(tmp_path / "svg")],
                        capsys)
    assert code == 0, err
    assert (tmp_path / "svg" / "latent.svg").read_text().lstrip().startswith("<?xml")
    code, _, err = run_cli(["plot", str(run), "-o", str(run / "config.json")], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "config.json is a file; --out names a folder" in err
    spaced = run.rename(tmp_path / "my run")  # the page to open, named as it can be pasted
    code, _, err = run_cli(["plot", str(spaced), "--device", "cpu"], capsys)
    assert code == 0 and f"; open {shlex.quote(str(spaced / 'index.html'))}\n" in err, err


@pytest.mark.slow
def test_demo_writes_both_runs_the_comparison_and_the_page(data_env, tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "COLUMNS": "100", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "vaelab", "demo", "--epochs", "1", "--out", str(out), "--seed", "3"],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"open {out / 'index.html'}" in result.stderr
    assert "ae epoch 1/1" in result.stderr and "vae epoch 1/1" in result.stderr
    for name in ("ae", "vae"):
        config = json.loads((out / name / "config.json").read_text())
        assert config["model"] == {"model": name, "latent_dims": 2, "hidden_dims": [512],
                                   "activation": "relu", "arch": "mlp", "channels": [32, 64],
                                   "likelihood": "sse"}
        assert config["train"]["seed"] == 3 and config["train"]["batch_size"] == 128
        assert (out / name / "figures" / "interpolation.gif").exists()
    assert (out / "comparison.png").exists()
    page = (out / "index.html").read_text()
    assert "comparison.png" in page and "vae/figures/samples.png" in page
    heads = re.findall(r'<th>(?:<a [^>]+>)?([^<]+/)<span class="whole">(v?ae)</span>(?:</a>)?'
                       r"</th>", page)  # alike in both, the folder's own name kept whole
    assert ["".join(head) for head in heads] == [f"{out.name}/ae", f"{out.name}/vae"] * 2, heads
    timings = json.loads((out / "timings.json").read_text())  # the page says where time went
    made = re.search(r"Made on cpu in (\d+) s: training (\d+) s, figures (\d+) s, measuring "
                     r"(\d+) s; the runs trained side by side, and each but the last was "
                     r"measured as it ended \(timings.json has every part\)\.", page)
    assert made and int(made[2]) == round(timings["training"]), page
    assert int(made[1]) >= int(made[2]) + int(made[3]) + int(made[4]) - 2
    # The classifier that ships with vaelab measures the samples: none is trained.
    assert not (tmp_path / "cache" / "vaelab" / "classifiers").exists()
    table = (out / "compare.md").read_text()
    grid_row = next(line for line in table.splitlines() if line.startswith("| codes' grid"))
    assert "n/a" not in grid_row
    assert "samples: Fréchet distance" in page


def test_ctrl_c_keeps_finished_epochs_and_says_how_to_go_on(data_env, tmp_path, capsys,
                                                           monkeypatch):
    from vaelab.training import loop as trainer

    real, calls = trainer.train_epoch, {"n": 0}

    def interrupted_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr("vaelab.training.jobs.train_epoch", interrupted_in_epoch_two)
    run = tmp_path / "run"
    code, _, err = run_cli(["train", "--model", "ae", "--epochs", "3", "--out", str(run), "--quiet",
                         "--train-subset", "256", "--hidden-dims", "32"], capsys)
    assert code == 130
    assert f"{run}: stopped; its last checkpoint (after epoch 1) is whole" in err
    assert f"go on with: vaelab train --resume {run}" in err
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    assert (run / "checkpoint.safetensors").exists()


def test_classifier_train_makes_the_shipped_one_again_and_keeps_its_own(data_env, tmp_path,
                                                                        capsys, monkeypatch):
    from vaelab.measuring import classifier

    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: tmp_path / "cache")
    trained = []

    def fake_train(data, *, epochs, seed, progress):  # stands in for five minutes' training
        trained.append(data.name)
        shipped = classifier.load_judge("mnist")
        path = classifier.classifier_path("mnist")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(shipped.path.read_bytes())
        return classifier.Judge(shipped.model, "mnist", shipped.accuracy, path)

    monkeypatch.setattr(classifier, "train_judge", fake_train)
    assert classifier.load_judge("mnist").path == classifier.shipped_path("mnist")
    code, _, err = run_cli(["classifier", "train", "--quiet"], capsys)
    assert code == 0 and trained == ["mnist"], err  # only the shipped one: train makes one
    code, out, err = run_cli(["classifier", "train", "--quiet"], capsys)
    assert code == 0 and trained == ["mnist"], err  # made here before: kept, and said so
    made = classifier.classifier_path("mnist")
    assert (out, err) == (f"{made}: test accuracy {classifier.load_judge('mnist').accuracy:.2%} "
                          f"(trained here before; --force trains it again)\n", "")
    code, out, err = run_cli(["classifier", "train", "--force", "--quiet"], capsys)
    assert code == 0 and trained == ["mnist", "mnist"], err
    assert out.startswith(f"{made}: test accuracy ") and err == ""
    code, out, err = run_cli(["classifier", "show", "-q"], capsys)  # on stdout: its result
    assert code == 0 and out.startswith(f"{made}: test accuracy ") and err == ""


@pytest.mark.parametrize("command", ["eval", "compare", "plot", "sample", "explore"])
def test_every_command_that_loads_runs_loads_them_on_its_device(command, tmp_path, monkeypatch,
                                                                 capsys):
    """`vaelab compare --device` was taken and then ignored: the runs went to the CPU."""
    import vaelab.training.runs

    class Loaded(Exception):
        pass

    asked = []

    def load_run(path, device="cpu", *, data_dir=None):
        asked.append(device)
        raise Loaded

    monkeypatch.setattr(vaelab.training.runs, "load_run", load_run)  # as every command opens runs
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
        runs.append(str(tmp_path / name))
    positionals = runs if command == "compare" else runs[:1]
    with pytest.raises(Loaded):
        from vaelab.cli import main

        main([command, *positionals, "--device", "cpu:0", "-q"])
    assert asked == ["cpu:0"]


def test_a_settings_files_errors_name_its_settings_as_the_file_does(tmp_path, capsys):
    """A config.json's key is not a flag: its errors keep the file's spelling, whatever the
    file's name (with a space, without a dot)."""
    folder = tmp_path / "My Runs"
    folder.mkdir()
    (folder / "settings").write_text('{"model": {"hidden_dims": [0]}}')
    code, _, err = run_cli(["train", "--config", str(folder / "settings")], capsys)
    assert code == 2
    assert err == (f"vaelab: error: {folder / 'settings'}: hidden_dims: every width must be a "
                   f"whole number from 1 to 65,536, got 0\n")


def test_a_full_disk_says_write_elsewhere_only_where_the_command_can(tmp_path):
    import errno

    from vaelab.cli import _can_write_elsewhere, _what_to_do
    from vaelab.cli.parsing import parse
    from vaelab.files import WriteError

    full, r = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "x"), str(tmp_path)
    (tmp_path / "config.json").write_text("{}")  # a run folder, as the parser sees one
    assert [_can_write_elsewhere(parse(args), full) for args in (
        ["sample", r], ["train"], ["train", "--resume", r], ["eval", r])] == [
        True, True, False, False]  # --resume keeps the run's folder; eval has no --out
    # compare writes each run's measures into the run's own folder, whatever --out says
    measures = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                       str(tmp_path / "eval-per-image.safetensors"))
    assert not _can_write_elsewhere(parse(["compare", r, r, "-o", "x"]), measures)
    assert _can_write_elsewhere(parse(["compare", r, r, "-o", "x"]), full)
    assert _what_to_do(full, True) == "; free some space, or write elsewhere (--out)"
    assert _what_to_do(full, False) == "; free some space"
    assert _what_to_do(OSError(errno.EROFS, "read-only"), False) == ""
    denied = os.strerror(errno.EACCES)
    assert _what_to_do(OSError(errno.EACCES, denied, str(tmp_path / "new.png")), True) == \
        "; write elsewhere (--out)"
    # A file that is there was being read: another folder to write to would not help; one
    # being written over is another matter.
    assert _what_to_do(OSError(errno.EACCES, denied, str(tmp_path / "config.json")), True) == ""
    assert _what_to_do(WriteError(errno.EACCES, denied, str(tmp_path / "config.json")), True) \
        == "; write elsewhere (--out)"


def test_eval_and_plot_of_a_run_that_has_not_trained_all_its_epochs_say_so(tmp_path, capsys,
                                                                          monkeypatch, tiny):
    import json

    from vaelab.config import ModelConfig, RunConfig, TrainConfig
    from vaelab.training.loop import train

    run = tmp_path / "vae"
    train(RunConfig(ModelConfig(hidden_dims=(32,)), train=TrainConfig(epochs=1)), run,
          data=tiny, progress=False)
    config = json.loads((run / "config.json").read_text())
    config["train"]["epochs"] = 8  # as a run in its first epoch of eight leaves it
    (run / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr("vaelab.training.datasets.load_dataset", lambda *a, **k: tiny)
    code, _, err = run_cli(["eval", str(run), "-k", "2", "--samples", "1", "-q"], capsys)
    assert code == 0, err
    assert f"{run} has trained 1 of its 8 epochs (it is training still, or was stopped): " \
           f"these are the measures of epoch 1" in err
    code, _, err = run_cli(["plot", str(run), "-q"], capsys)  # which draws the figures
    assert code == 0, err
    assert f"{run} has trained 1 of its 8 epochs (it is training still, or was stopped): " \
           f"these are the figures of epoch 1" in err


def test_train_carries_its_own_flags_into_the_commands_a_stop_names():
    """The flags that config.json does not keep, each as the shell reads it; a default given
    is no flag to carry."""
    from pathlib import Path

    from vaelab.cli.commands import Train

    flags = Train(data_dir=Path("my data"), device="cpu", quiet=True, compile=True,
                  no_plots=True, checkpoint_every="500")._own_flags()
    assert shlex.split(flags) == ["--no-plots", "--compile", "-q", "--checkpoint-every", "500",
                                  "--device", "cpu", "--data-dir", "my data"]
    assert Train(checkpoint_every="10m")._own_flags() == ""
    assert Train(data_dir=Path("d"))._plot(Path("a run")) == "vaelab plot 'a run' --data-dir d"


def test_a_printed_commands_folder_is_quoted_for_the_shell_it_is_pasted_into(monkeypatch):
    from vaelab import files

    assert files.quoted("runs/vae") == "runs/vae"
    assert shlex.split(files.quoted("my runs/it's")) == ["my runs/it's"]
    monkeypatch.setattr(files.os, "name", "nt")  # cmd, PowerShell and Git Bash alike
    assert files.quoted(r"C:\Users\ana\my runs") == '"C:/Users/ana/my runs"'
    assert files.quoted(r"C:\runs\vae") == "C:/runs/vae"
    assert files.quoted(r"C:\Users\O'Brien\a&b") == '"C:/Users/O\'Brien/a&b"'


def test_a_printed_commands_flags_are_those_given_in_order_and_quoted():
    from vaelab.files import command_flags

    given = command_flags(("--no-plots", True), ("--compile", False), ("--device", None),
                          ("--epochs", 20), ("--data-dir", "my data"), ("-q", True))
    assert given == " --no-plots --epochs 20 --data-dir 'my data' -q"
    assert shlex.split("vaelab train" + given)[2:] == ["--no-plots", "--epochs", "20",
                                                      "--data-dir", "my data", "-q"]
    assert command_flags() == ""


def test_quiet_eval_and_compare_say_only_what_they_wrote(data_env, tmp_path, capsys):
    """-q leaves out the progress of measuring, which eval and compare print otherwise."""
    runs = [tmp_path / name for name in ("a", "b")]
    for run in runs:
        code, _, err = run_cli(["train", "--epochs", "1", "--train-subset", "256", "--hidden-dims",
                                "16", "--no-plots", "-o", str(run), "-q"], capsys)
        assert code == 0, err
    measure = ["-k", "2", "--samples", "1"]
    code, out, err = run_cli(["eval", str(runs[0]), *measure], capsys)
    assert code == 0 and "NLL, k = 2: 10,000 images in " in err and "NLL" in out, err
    code, out, err = run_cli(["eval", str(runs[0]), *measure, "-q"], capsys)
    assert code == 0 and err == f"vaelab: wrote {runs[0] / 'eval.json'}\n" and "NLL" in out
    folder = tmp_path / "cmp"
    code, out, err = run_cli(["compare", *map(str, runs), *measure, "-o", str(folder), "-q"],
                             capsys)
    assert code == 0 and err == f"vaelab: compare.md, compare.csv and compare.png in {folder}\n"
    assert "NLL" in out


def test_the_measuring_defaults_in_the_help_are_those_vaelab_measures_with(capsys):
    """eval's and compare's help states k, --samples and --seed by hand or as the command's
    own defaults: each must be what evaluate_run uses."""
    import inspect

    from vaelab.cli.measure import Eval
    from vaelab.measuring import evaluation

    defaults = inspect.signature(evaluation.evaluate_run).parameters
    assert (Eval.samples, Eval.chunk, Eval.seed) == (
        defaults["samples"].default, defaults["chunk"].default, defaults["seed"].default)
    pages = {}
    for command in ("eval", "compare"):
        code, out, _ = run_cli([command, "--help"], capsys)
        assert code == 0
        pages[command] = " ".join(out.replace("│", " ").split())
    assert f"(default: {evaluation.K})" in pages["eval"]
    for given in (f"{evaluation.K}, or a saved eval's", f"{evaluation.SAMPLES}, or a saved "
                  f"eval's", f"{defaults['seed'].default}, or a saved eval's"):
        assert given in pages["compare"], given
