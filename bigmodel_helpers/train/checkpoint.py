"""Checkpoints that survive ``kill -9``.

Layout of ``checkpoint_dir``::

    step_00000500/model.safetensors   weights (safetensors: no pickle, loads anywhere)
    step_00000500/state.pt            optimizer, grad scaler, RNG, sampler position, step, history
                                      (plain tensors/numbers: loads with torch.load(weights_only=True))
    best.json                         {"step": 400, "val_loss": ...}: which step dir holds the best weights

A checkpoint is written into a hidden ``.tmp-*`` folder and then renamed to ``step_*``: a rename is atomic,
so a ``step_*`` folder is always complete and the newest one is the one to resume from. A writer killed
half-way leaves only a ``.tmp-*`` folder, which the next save deletes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_model, save_model

STEP_DIR = re.compile(r"^step_(\d{8,})$")
WEIGHTS, STATE, BEST = "model.safetensors", "state.pt", "best.json"

# Test hook: called with the temporary folder after it is fully written and before the rename.
# tests/train_scripts use it to SIGKILL the process in the middle of a checkpoint write.
before_commit = None


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DistributedDataParallel / torch.compile wrappers, so that saved keys never
    carry their ``module.`` / ``_orig_mod.`` prefixes."""
    while True:
        if isinstance(model, torch.nn.parallel.DistributedDataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), torch.nn.Module):   # torch.compile's wrapper
            model = model._orig_mod
        else:
            return model


def step_dirs(checkpoint_dir: str | Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and STEP_DIR.match(p.name)]
    return sorted(found, key=lambda p: int(STEP_DIR.match(p.name).group(1)))


def latest_checkpoint(checkpoint_dir: str | Path | None) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    found = step_dirs(checkpoint_dir) if checkpoint_dir else []
    return found[-1] if found else None


def best_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The folder holding the weights with the lowest validation loss seen so far, or None."""
    pointer = Path(checkpoint_dir) / BEST
    if not pointer.is_file():
        return None
    folder = Path(checkpoint_dir) / json.loads(pointer.read_text())["dir"]
    return folder if folder.is_dir() else None


def save_checkpoint(checkpoint_dir: str | Path, step: int, model: torch.nn.Module, state: dict,
                    best_val_loss: float | None = None, keep: int = 1) -> Path:
    """Write ``step_<step>/`` atomically; mark it best when ``best_val_loss`` is given; prune old ones."""
    folder = Path(checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step_{step:08d}"
    tmp = folder / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    # save_model (not save_file) de-duplicates tied weights, e.g. a GPT head shared with the embedding.
    save_model(unwrap(model), str(tmp / WEIGHTS), metadata={"step": str(step)})
    torch.save(state, tmp / STATE)
    for path in (tmp / WEIGHTS, tmp / STATE, tmp):
        _fsync(path)
    if before_commit is not None:
        before_commit(tmp)
    if final.exists():   # the same step saved twice (e.g. periodic and best): same content
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync(folder)
    if best_val_loss is not None:
        _write_atomic(folder / BEST, json.dumps({"dir": final.name, "step": step, "val_loss": best_val_loss}))
    _prune(folder, keep)
    return final


def load_checkpoint(path: str | Path, model: torch.nn.Module, device: torch.device | str = "cpu") -> dict:
    """Load weights from ``path`` (a step folder) into ``model`` and return the training state."""
    path = Path(path)
    load_weights(model, path / WEIGHTS, device)
    return torch.load(path / STATE, map_location="cpu", weights_only=True)


def load_weights(model: torch.nn.Module, weights_file: str | Path,
                 device: torch.device | str = "cpu") -> None:
    """Load a ``model.safetensors`` into ``model``, with a clear error when the shapes do not fit."""
    model = unwrap(model)
    problems = _shape_mismatches(model, weights_file)
    if problems:
        raise ValueError(
            f"The checkpoint {weights_file} was saved from a different model ({len(problems)} differences; "
            f"{'; '.join(problems[:3])}). Point checkpoint_dir at a new folder, or delete the old one to "
            "start fresh.")
    load_model(model, str(weights_file), strict=True, device=str(device))


def _shape_mismatches(model: torch.nn.Module, weights_file) -> list[str]:
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    with safe_open(str(weights_file), framework="pt") as f:   # reads the header only
        names = f.keys()   # (safe_open is not iterable)
        stored = {name: tuple(f.get_slice(name).get_shape()) for name in names}
    problems = [f"{name!r} is {list(shape)} there but {list(expected[name])} here"
                for name, shape in stored.items() if name in expected and expected[name] != shape]
    problems += [f"{name!r} is not in this model" for name in stored if name not in expected]
    # Names missing from the file are fine only when they are tied to a stored tensor (save_model
    # keeps one name per shared storage).
    stored_ptrs = {model.state_dict()[n].untyped_storage().data_ptr() for n in stored if n in expected}
    problems += [f"{name!r} is missing there" for name, t in model.state_dict().items()
                 if name not in stored and t.untyped_storage().data_ptr() not in stored_ptrs]
    return problems


def _prune(folder: Path, keep: int) -> None:
    best = best_checkpoint(folder)
    for old in step_dirs(folder)[:-keep]:
        if best is None or old.name != best.name:
            shutil.rmtree(old, ignore_errors=True)
    for stale in folder.glob(".tmp-*"):   # left behind by a writer that was killed
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    tmp.write_text(text)
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk, so a power cut cannot reorder the rename first."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:   # some filesystems / platforms refuse fsync on folders
        pass
    finally:
        os.close(fd)
