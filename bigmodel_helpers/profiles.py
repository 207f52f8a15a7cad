"""Profiles: the one place where sizes live.

Every notebook runs the same code in three profiles; only the numbers below change.

* ``smoke`` -- seconds, for CI (2 cores, offline). Small, but the real code path on real data.
* ``cpu``   -- minutes on a 2-4 core laptop: the learner's default.
* ``gpu``   -- full size on a real GPU (Colab or better), with hub checkpoints when online.

Each chapter has one table, keyed by the notebook's file stem. A chapter reads its sizes with
``sizes("ch04_tools_data", PROFILE)`` (or through ``start(...)``, which does it for you).
"""

from __future__ import annotations

from types import SimpleNamespace

PROFILES = ("smoke", "cpu", "gpu")

# chapter stem -> {profile -> {name: value}}. Keep every profile's keys identical.
SIZES: dict[str, dict[str, dict]] = {
    "ch01_overview": {
        "smoke": {"matmul_size": 512, "matmul_repeats": 20, "act_seq": 128, "act_batch": 2},
        "cpu": {"matmul_size": 2048, "matmul_repeats": 10, "act_seq": 256, "act_batch": 4},
        "gpu": {"matmul_size": 8192, "matmul_repeats": 10, "act_seq": 256, "act_batch": 4},
    },
    "ch02_foundations": {
        "smoke": {},
        "cpu": {},
        "gpu": {},
    },
    "ch03_pretraining": {
        "smoke": {},
        "cpu": {},
        "gpu": {},
    },
    "ch04_tools_data": {
        "smoke": {"imdb_rows": 4000, "bpe_vocab": 4000, "grid_images": 8,
                  "loader_batches": 10, "loader_workers": [0, 2], "batch_sizes": [32, 256]},
        "cpu": {"imdb_rows": None, "bpe_vocab": 16000, "grid_images": 10,
                "loader_batches": 40, "loader_workers": [0, 1, 2], "batch_sizes": [32, 256]},
        "gpu": {"imdb_rows": None, "bpe_vocab": 16000, "grid_images": 10,
                "loader_batches": 50, "loader_workers": [0, 2, 4], "batch_sizes": [32, 256]},
    },
    "ch06_text": {
        "smoke": {},
        "cpu": {},
        "gpu": {},
    },
}


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}. Valid profiles: {', '.join(PROFILES)} "
                         "(set PROFILE in the notebook's parameters cell, or `make course PROFILE=smoke`).")
    return profile


def sizes(chapter: str, profile: str) -> SimpleNamespace:
    """The sizes for one chapter in one profile, as attributes (``S.max_steps``)."""
    check_profile(profile)
    if chapter not in SIZES:
        raise KeyError(f"No sizes for chapter {chapter!r}. Known chapters: {', '.join(sorted(SIZES))} "
                       "(add a table to bigmodel_helpers/profiles.py).")
    return SimpleNamespace(**SIZES[chapter][profile])
