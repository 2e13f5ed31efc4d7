"""``python -m engine.data [--download] [--root DIR]``: where MNIST is found, or fetch it (MD5-checked).

The command is :func:`engine.data.download.cli`; the loader, :mod:`engine.data.mnist`, never downloads.
"""

import sys

from engine.data.download import cli

sys.exit(cli())
