"""A model one chapter trains and a later chapter loads: chapter 3's character GPT, reused by chapter 6.

Layout of ``build/<profile>/handover/<name>/``::

    model.safetensors   the weights (safetensors: no pickle)
    card.json           the GPTConfig, the vocabulary, and what it was trained on (plays, steps, losses)

The folder is written under a hidden ``.tmp-*`` name and renamed, so a reader never sees half a model.
A chapter that loads a handover must still run alone from a fresh kernel: ``load_gpt`` raises
``HandoverMissing`` with the command that produces it, and the chapter falls back to training its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model

from .models.gpt import GPT, GPTConfig
from .results import build_dir
from .train.checkpoint import _fsync, unwrap

WEIGHTS, CARD = "model.safetensors", "card.json"
# which chapter produces each handover, for the message when it is missing
PRODUCERS = {"char_gpt": "chapters/ch03_pretraining.ipynb"}


class HandoverMissing(FileNotFoundError):
    """The model has not been saved in this profile yet (its chapter has not run)."""


def handover_dir(profile: str, name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"handover name {name!r} must be a plain folder name such as 'char_gpt'")
    return build_dir(profile) / "handover" / name


def save_gpt(profile: str, name: str, model: GPT, vocab: list[str], trained_on: dict) -> Path:
    """Save ``model`` with its config, its vocabulary (token id -> string) and a description of its training
    (``trained_on``: JSON-serialisable, e.g. the plays, steps and validation loss)."""
    model = unwrap(model)
    if not isinstance(model, GPT):
        raise TypeError(f"save_gpt saves the course GPT, got {type(model).__name__}")
    if len(vocab) != model.cfg.vocab_size:
        raise ValueError(f"the vocabulary has {len(vocab)} entries but the model has vocab_size="
                         f"{model.cfg.vocab_size}: pass the list that maps every token id to its string")
    card = {"config": dataclasses.asdict(model.cfg), "vocab": list(vocab), "trained_on": trained_on}
    text = json.dumps(card, ensure_ascii=False, indent=1)   # fails here, before anything is written
    final = handover_dir(profile, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / WEIGHTS))
    (tmp / CARD).write_text(text, encoding="utf-8")
    for path in (tmp / WEIGHTS, tmp / CARD, tmp):
        _fsync(path)
    old = final.parent / f".old-{name}-{os.getpid()}"
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    _fsync(final.parent)
    return final


def load_gpt(profile: str, name: str, device: torch.device | str = "cpu") -> tuple[GPT, list[str], dict]:
    """The saved GPT (in eval mode), its vocabulary and its ``trained_on`` description."""
    folder = handover_dir(profile, name)
    if not (folder / WEIGHTS).is_file() or not (folder / CARD).is_file():
        producer = PRODUCERS.get(name, "the chapter that saves it")
        raise HandoverMissing(
            f"no saved {name!r} in the {profile!r} profile ({folder}). Run {producer} in that profile first, "
            f"e.g. python -m bigmodel_helpers.notebooks --profile {profile} {producer}")
    card = json.loads((folder / CARD).read_text(encoding="utf-8"))
    model = GPT(GPTConfig(**card["config"]))
    load_model(model, str(folder / WEIGHTS), strict=True, device=str(device))
    return model.eval(), card["vocab"], card["trained_on"]
