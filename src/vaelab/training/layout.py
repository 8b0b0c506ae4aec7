"""What makes a folder a run's: its config.json, told apart from the folders that are not
one but hold or sit in runs. Imports no PyTorch, so that the command line names a wrong
folder at once."""

from __future__ import annotations

from pathlib import Path

from vaelab.errors import VaelabError

CONFIG = "config.json"


def check_run_folder(path: Path) -> Path:
    """``path`` if it is a run folder (a folder with a config.json), else one clear line."""
    if not path.exists():
        raise VaelabError(f"{path}: no such run folder")
    if not path.is_dir():
        raise VaelabError(f"{path}: a file, not a run folder (a folder that vaelab train "
                          f"writes)")
    if not (path / CONFIG).is_file():
        inside = sorted(str(run.parent) for run in path.glob("*/config.json"))
        if inside:  # a demo's or a comparison's folder
            raise VaelabError(f"{path}: not a run folder, but it holds the runs "
                              f"{', '.join(inside)}: name one of them")
        if (path.parent / CONFIG).is_file():  # a run's figures/, say
            raise VaelabError(f"{path}: not a run folder, but a folder in the run "
                              f"{path.parent}: name that")
        if (path / "compare.md").is_file():
            raise VaelabError(f"{path}: not a run folder, but vaelab compare's output: name "
                              f"the runs it compared")
        if (path / "latent.png").is_file():
            raise VaelabError(f"{path}: not a run folder, but a folder of figures (vaelab plot "
                              f"--out): name the run they are of")
        raise VaelabError(f"{path}: not a vaelab run folder (it has no config.json; vaelab "
                          f"train writes run folders)")
    return path
