"""Google Colab: the repository the course installs from, the set-up cell every notebook starts with,
and the "Open in Colab" badge. Forks change ``REPOSITORY`` here and nowhere else."""

from __future__ import annotations

REPOSITORY = "bigmodel-course/bigmodel-course"   # owner/name on GitHub
BRANCH = "main"

# The first code cell of every chapter, character for character (tests/test_notebook_shape.py checks it).
# On Colab it installs the helper package (lower-bound dependencies: Colab's torch is kept) and the
# offline assets, and selects the gpu profile when a GPU is present. Elsewhere it does nothing.
SETUP_CELL = f'''\
# Colab set-up: installs the course helpers on Google Colab; does nothing anywhere else.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    if not os.path.exists("bigmodel-course"):
        subprocess.run("git clone -q --depth 1 -b {BRANCH} https://github.com/{REPOSITORY} bigmodel-course && "
                       "pip install -q -e bigmodel-course && python -m bigmodel_helpers.assets fetch --quiet",
                       shell=True, check=True)
        print("Installed. If pip upgraded a package that was already imported, restart the session "
              "(Runtime > Restart session) and run all cells again.")
    sys.path.insert(0, "bigmodel-course")
    import torch
    if torch.cuda.is_available():
        os.environ["BIGMODEL_PROFILE"] = "gpu"   # start() picks it up and says so'''


def badge(notebook_path: str) -> str:
    """Markdown for an "Open in Colab" badge for ``chapters/<name>.ipynb``."""
    url = f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{notebook_path}"
    return f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
