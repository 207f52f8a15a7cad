"""Headline numbers of a run, written to ``build/<profile>/results.json``.

The file is one JSON object: notebook stem -> {metric name -> number}. Tests compare it with the
bands in ``data/bands/<stem>.json``. Every number a chapter's prose states should come from here.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .profiles import check_profile


def project_root(start: Path | None = None) -> Path:
    """The course checkout (the folder holding pyproject.toml), or the current folder outside one."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "bigmodel_helpers").is_dir():
            return folder
    return here


def build_dir(profile: str) -> Path:
    check_profile(profile)
    root = Path(os.environ.get("BIGMODEL_BUILD_DIR") or project_root() / "build")
    return root / profile


def results_path(profile: str) -> Path:
    return build_dir(profile) / "results.json"


def load_results(profile: str) -> dict:
    path = results_path(profile)
    return json.loads(path.read_text()) if path.is_file() else {}


def record(notebook: str, profile: str, name: str, value) -> float:
    """Store one headline number (merged into the profile's results file, written atomically)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"record({name!r}, ...) needs a number, got {type(value).__name__}") from None
    if not math.isfinite(value):
        raise ValueError(f"record({name!r}, {value}) : the value is not finite; something upstream went wrong.")
    path = results_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    results = load_results(profile)
    results.setdefault(notebook, {})[name] = value
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return value


BANDS_DIR = Path(__file__).resolve().parent.parent / "data" / "bands"


def load_bands(notebook: str, profile: str) -> dict[str, tuple[float, float]]:
    """The expected ranges of a notebook's headline numbers in one profile (``data/bands/<stem>.json``)."""
    path = BANDS_DIR / f"{notebook}.json"
    if not path.is_file():
        return {}
    table = json.loads(path.read_text()).get(profile, {})
    return {name: (float(low), float(high)) for name, (low, high) in table.items()}


def check_bands(notebook: str, profile: str, measured: dict, bands: dict | None = None) -> list[str]:
    """Problems with a run's numbers: a banded metric that is missing or outside its band."""
    bands = load_bands(notebook, profile) if bands is None else bands
    problems = []
    for name, (low, high) in sorted(bands.items()):
        if name not in measured:
            problems.append(f"{notebook}/{profile}: {name} was not recorded (band [{low}, {high}])")
        elif not low <= measured[name] <= high:
            problems.append(f"{notebook}/{profile}: {name} = {measured[name]:.6g} is outside its band [{low}, {high}]")
    return problems
