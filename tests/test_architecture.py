"""The package's shape: imports run one way (the import-linter contracts in pyproject.toml), no
module grows past a few screens, and code outside the models asks a model what it can do
instead of checking its type or its name."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "vaelab"
MAX_LINES = 330


def _lint_imports(source_root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    script = ("import sys; from importlinter.cli import lint_imports; "
              "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True))")
    return subprocess.run([sys.executable, "-c", script, str(REPO / "pyproject.toml")],
                          cwd=source_root, env=env, capture_output=True, text=True)


def test_imports_run_one_way():
    result = _lint_imports(REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "upward"), [
    ("data/idx.py", "import vaelab.cli"),  # a layer imports one above it
    ("pictures/plots.py", "import vaelab.pictures.figures"),  # a cycle inside a layer
])
def test_the_contracts_catch_a_wrong_import(tmp_path, module, upward):
    copy = tmp_path / "vaelab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / module, "a") as f:
        f.write(f"\n{upward}  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def test_no_module_is_longer_than_a_few_screens():
    lengths = {path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
               for path in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_code_outside_the_models_asks_the_model_instead_of_checking_its_type():
    """``isinstance(model, VAE)`` or ``config.model == "vae"`` outside models/ means a new model
    has to be taught to every module; the models say what they can do instead."""
    pattern = re.compile(r"isinstance\([^)]*, *(VAE|Autoencoder|CVAE)\b|\.model\.model *[=!]=|"
                         r"model\.model *[=!]= *\"|== *\"(ae|vae|cvae)\"")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in PACKAGE.rglob("*.py") if "models" not in path.relative_to(PACKAGE).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
