"""The README's Python example runs as written (with one epoch instead of twenty)."""

import re

import pytest
import torch

from conftest import REPO


def _python_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_readme_has_its_two_commands():
    text = (REPO / "README.md").read_text()
    assert "pip install torch==2.13.0 && pip install -e . && vaelab demo" in text
    assert "pip install -e '.[test]' && pytest" in text


@pytest.mark.slow
def test_the_readme_python_example_runs(data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAELAB_DATA", str(data_root))
    monkeypatch.chdir(tmp_path)
    (block,) = _python_blocks()
    assert "epochs=20" in block
    from vaelab.device import flushing_denormals

    was = flushing_denormals()
    try:
        exec(compile(block.replace("epochs=20", "epochs=1"), "README.md", "exec"), {})
    finally:  # the example flushes subnormals for the whole thread; the tests after need them
        torch.set_flush_denormal(was)
    assert (tmp_path / "runs" / "vae-api" / "figures" / "samples.png").exists()
    out = capsys.readouterr().out
    assert "'recon'" in out and "grad_fn" not in out  # what a reader sees is plain numbers


def test_the_readme_links_and_images_point_at_files_that_exist():
    text = (REPO / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)", text)
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    assert local, "the README links to no file of the repository"
    missing = [t for t in local if not (REPO / t).exists()]
    assert not missing, f"the README links to missing files: {missing}"


def test_every_test_that_docs_reliability_cites_exists():
    """docs/reliability.md names, for each fault and bad input, the tests that hold it: a
    test renamed or removed must not leave the row citing it."""
    tests = {path.name: path.read_text(encoding="utf-8") for path in (REPO / "tests").glob("*.py")}
    defined = {name: set(re.findall(r"^def (test_\w+)", text, re.M))
               for name, text in tests.items()}
    text = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    cited = re.findall(r"`(test_\w+\.py)?(?:::(test_\w+))?`", text)
    assert len(cited) > 40
    file = None
    for named_file, name in cited:
        file = named_file or file  # `::name` is of the file named before it
        assert file in defined, file
        if name:
            assert name in defined[file], f"{file}::{name}"
