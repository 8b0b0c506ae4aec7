import sys

from vaelab.cli import run

sys.exit(run())
