"""``python -m chatgpt4o``: the same as the ``chatgpt4o`` command (see :mod:`chatgpt4o.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
