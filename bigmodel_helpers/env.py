"""The machine we run on: device choice (with the reason), seeding, and an environment report."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import sys

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def pick_device(preference: str = "auto") -> tuple[torch.device, str]:
    """Return ``(device, reason)``. ``auto`` prefers cuda > mps > cpu."""
    if preference not in DEVICES:
        raise ValueError(f"Unknown device {preference!r}. Valid: {', '.join(DEVICES)}.")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch sees no CUDA GPU; use device='auto' or 'cpu'.")
    if preference == "mps" and not _mps_available():
        raise RuntimeError("device='mps' was asked for but this torch has no usable Apple MPS; use 'auto' or 'cpu'.")
    if preference != "auto":
        return torch.device(preference), f"asked for {preference!r}"
    if torch.cuda.is_available():
        return torch.device("cuda"), f"CUDA GPU found: {torch.cuda.get_device_name(0)}"
    if _mps_available():
        return torch.device("mps"), "Apple GPU (MPS) found and no CUDA GPU"
    return torch.device("cpu"), "no CUDA or MPS GPU found"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) so a run repeats."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


REPORTED_PACKAGES = ("torch", "torchvision", "transformers", "tokenizers", "safetensors", "numpy",
                     "scikit-learn", "gensim", "timm", "ipywidgets", "papermill")


def environment_report() -> dict:
    """Facts a bug report needs: python, torch, accelerators, threads, package versions."""
    device, reason = pick_device("auto")
    report = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "mps_available": _mps_available(),
        "device": str(device),
        "device_reason": reason,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "colab": in_colab(),
        "packages": {name: _version(name) for name in REPORTED_PACKAGES},
    }
    return report


def format_report(report: dict) -> str:
    lines = [f"python {report['python']} on {report['platform']}",
             f"torch {report['torch']}: device {report['device']} ({report['device_reason']}), "
             f"{report['torch_threads']} threads on {report['cpu_cores']} cores",
             "packages: " + ", ".join(f"{k} {v}" for k, v in report["packages"].items())]
    if report["colab"]:
        lines.append("running on Google Colab")
    return "\n".join(lines)


def main() -> int:
    """`make check-env`: the report, plus which offline assets are present."""
    from .assets import present
    print(format_report(environment_report()))
    have = present()
    print("assets: " + ", ".join(f"{name} {'present' if ok else 'MISSING'}" for name, ok in have.items()))
    if not all(have.values()):
        print("Missing assets: run `make setup` (or `python -m bigmodel_helpers.assets fetch`).")
    return 0 if all(have.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
