"""Profiles: one code path, three sizes.

* ``smoke`` -- seconds, for CI (2 cores, offline). Small, but the real code path on real data.
* ``cpu``   -- minutes on a 2-4 core laptop: the learner's default.
* ``gpu``   -- full size on a real GPU (Colab or better), with hub checkpoints when online.

Each chapter's sizes live in their own module, ``bigmodel_helpers/sizes/<notebook stem>.py`` (``CPU`` with a
comment per value, ``SMOKE`` and ``GPU`` as overrides of it). A chapter reads them with
``sizes("ch04_tools_data", PROFILE)`` (or through ``start(...)``, which does it for you).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import SimpleNamespace

PROFILES = ("smoke", "cpu", "gpu")

# Tables added at run time, ``{stem: {profile: {name: value}}}``, for notebooks outside the course (a learner's
# own notebook, the tests' fixtures). Course chapters use their sizes module instead.
SIZES: dict[str, dict[str, dict]] = {}


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}. Valid profiles: {', '.join(PROFILES)} "
                         "(set PROFILE in the notebook's parameters cell, or `make course PROFILE=smoke`).")
    return profile


def chapters_with_sizes() -> list[str]:
    """The notebook stems that have a sizes module."""
    from . import sizes as package
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def size_table(chapter: str) -> dict[str, dict]:
    """``{profile: {name: value}}`` for one chapter, read from its sizes module."""
    if chapter in SIZES:
        return {profile: dict(SIZES[chapter][profile]) for profile in PROFILES}
    known = chapters_with_sizes()
    if chapter not in known:
        raise KeyError(f"No sizes for chapter {chapter!r}. Known chapters: {', '.join(known)} "
                       f"(add bigmodel_helpers/sizes/{chapter}.py with CPU, SMOKE and GPU dicts).")
    module = importlib.import_module(f"{__package__}.sizes.{chapter}")
    missing = [name for name in ("SMOKE", "CPU", "GPU") if not isinstance(getattr(module, name, None), dict)]
    if missing:
        raise TypeError(f"bigmodel_helpers/sizes/{chapter}.py must define the dicts SMOKE, CPU and GPU; "
                        f"missing: {', '.join(missing)}.")
    return {profile: dict(getattr(module, profile.upper())) for profile in PROFILES}


def sizes(chapter: str, profile: str) -> SimpleNamespace:
    """The sizes for one chapter in one profile, as attributes (``S.max_steps``)."""
    check_profile(profile)
    return SimpleNamespace(**size_table(chapter)[profile])
