"""The command that shows a run in the browser: explore, served on 127.0.0.1 or written as
one self-contained HTML file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from vaelab.cli.options import OPTIONAL, Common, flag, say
from vaelab.errors import VaelabError


@dataclass(kw_only=True)
class Explore(Common):
    """Explore a run's latent space in the browser: hover to decode, click two places to
    interpolate, draw an image to encode it; several runs side by side, one pointer driving
    them all. Serves the page on 127.0.0.1 until Ctrl-C, or writes it as one self-contained
    HTML file with --out."""

    run_dirs: Annotated[list[Path], tyro.conf.Positional,
                        tyro.conf.arg(metavar="RUN [RUN ...]", help_behavior_hint="(required)")]
    """The run folder, or several (one pointer drives them all)."""
    port: int = 8765
    """Port on 127.0.0.1 to serve the page from (0: any free one)."""
    out: Annotated[Path | None, flag("-o", "--export", metavar="FILE", hint=OPTIONAL)] = None
    """Write the page to this HTML file (it works offline, from file://) instead of serving."""
    open: bool = False
    """Open the page in the default browser, if there is one."""

    def run(self) -> None:
        import webbrowser

        from vaelab.pictures.explore import check_export_path, export_explorer, serve_explorer

        if not self.run_dirs:
            raise VaelabError("name a run folder to explore (or several)")
        if self.out is not None:
            check_export_path(self.out)  # before the runs and the data are loaded
        runs = [self.load(folder)
                for folder in self.run_dirs]
        options = dict(data_dir=self.data_dir, progress=not self.quiet)
        if self.out is not None:
            if self.port != Explore.port:
                logging.getLogger("vaelab").warning(
                    "--port %d is not used: with --out the page is written to a file, not "
                    "served", self.port)
            path = export_explorer(runs, self.out, **options)
            say(f"wrote {path}; it opens from any folder, offline")
            if self.open and not webbrowser.open(path.resolve().as_uri()):
                say("no browser found here; open the file in one")
            return

        served: list[str] = []

        def ready(url: str) -> None:
            served.append(url)
            say(f"the explorer is at {url} (Ctrl-C stops it)")
            if self.open and not webbrowser.open(url):
                say("no browser found here; open the address in one")

        try:
            serve_explorer(runs, self.port, on_ready=ready, **options)
        except KeyboardInterrupt:
            if not served:  # stopped as it was made: interrupted, as any command is (130)
                raise
            say("explorer stopped")  # the way to stop a server: it did what it was asked
