"""The machine we run on: device choice (with the reason), the one seed helper, the one thread policy, and an
environment report.

Thread policy: ``start()`` calls ``apply_thread_policy`` once; it decides how many CPU threads torch (and
NumPy's BLAS) use for the whole chapter and says why in the report. A cell that needs fewer threads for a
while (small networks, token-by-token decoding) uses ``with fewer_threads(1): ...``, which restores the
policy when the block ends. No notebook calls ``torch.set_num_threads`` itself.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import random
import shutil
import sys
from contextlib import contextmanager

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
    """Seed python, numpy and torch (all devices) so a run repeats. The one seed helper of the course."""
    random.seed(seed)
    np.random.seed(seed % 2**32)   # numpy takes 32-bit seeds; torchrun ranks add to the seed
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------ thread policy
_policy: dict = {"threads": None, "reason": "not decided yet (start() decides)"}


def available_cores() -> int:
    """CPU cores this process may run on (a container's or taskset's limit, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # macOS, Windows
        return os.cpu_count() or 1


def apply_thread_policy(threads: int | None = None, reason: str = "") -> tuple[int, str]:
    """Decide torch's CPU thread count once per chapter; returns ``(threads, reason)``.

    ``threads=None``: ``BIGMODEL_THREADS`` when set, else ``OMP_NUM_THREADS`` when set (torchrun sets it to
    1 per process), else one thread per available core. A chapter passes ``threads=1`` (with its reason)
    when all its networks are small enough that splitting their matrix products costs more than it saves.
    """
    if threads is None:
        for variable in ("BIGMODEL_THREADS", "OMP_NUM_THREADS"):
            if os.environ.get(variable, "").isdigit() and int(os.environ[variable]) >= 1:
                threads, reason = int(os.environ[variable]), f"{variable}={os.environ[variable]}"
                break
        else:
            threads, reason = available_cores(), "one per available core"
    if not (isinstance(threads, int) and threads >= 1):
        raise ValueError(f"threads={threads!r} must be a whole number >= 1 (or None for one per core).")
    torch.set_num_threads(threads)
    _blas_limit(threads)
    _policy.update(threads=threads, reason=reason or "asked for")
    return threads, _policy["reason"]


def thread_policy() -> tuple[int | None, str]:
    """``(threads, reason)`` as decided by ``apply_thread_policy`` (``None`` before it ran)."""
    return _policy["threads"], _policy["reason"]


@contextmanager
def fewer_threads(threads: int = 1):
    """Run a block with ``threads`` CPU threads (torch and NumPy's BLAS), then restore what was before.

    For cells whose work is too small to share: token-by-token decoding, tiny networks. On a machine whose
    cores are busy with other programs, one thread can be many times faster there."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    _blas_limit(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
        _blas_limit(_policy["threads"] or before)


def _blas_limit(threads: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:   # only NumPy's own BLAS goes unlimited
        return
    threadpool_limits(threads, user_api="blas")


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
        "gpu": _gpu_facts(),
        "mps_available": _mps_available(),
        "device": str(device),
        "device_reason": reason,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "thread_reason": thread_policy()[1] if thread_policy()[0] == torch.get_num_threads() else "torch default",
        "colab": in_colab(),
        "packages": {name: _version(name) for name in REPORTED_PACKAGES},
    }
    return report


def _gpu_facts() -> dict | None:
    """CUDA and cuDNN versions, compute capability, memory and bf16 support of GPU 0 (None without one)."""
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"name": props.name, "cuda": torch.version.cuda, "cudnn": cudnn,
            "capability": f"{props.major}.{props.minor}", "memory_gib": round(props.total_memory / 2**30, 1),
            "bf16": bool(torch.cuda.is_bf16_supported(including_emulation=False))}


def gpu_line(report: dict) -> str:
    """One line about the GPU: its CUDA/cuDNN versions, compute capability and bf16 support, or "no GPU"."""
    g = report.get("gpu")
    if not g:
        built = f"this torch is built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only torch"
        return f"no GPU: torch sees no CUDA device ({built})"
    cudnn = g["cudnn"] if g["cudnn"] is not None else "not available"
    return (f"GPU {g['name']}: compute capability {g['capability']}, {g['memory_gib']} GiB, CUDA "
            f"{g['cuda']}, cuDNN {cudnn}, bf16 {'yes' if g['bf16'] else 'no'}")


def compiler_support() -> tuple[bool, str]:
    """Can ``torch.compile`` generate code here? ``(ok, reason)``; nothing is compiled to find out.

    On the CPU its default backend (inductor) writes C++ and needs a C++ compiler (``CXX``, else ``c++``,
    ``g++`` or ``clang++`` on the PATH); on a CUDA GPU it writes Triton kernels and needs ``triton``."""
    if not hasattr(torch, "compile"):
        return False, f"torch {torch.__version__} has no torch.compile (it needs torch >= 2.0)"
    reasons = []
    for candidate in [os.environ.get("CXX"), "c++", "g++", "clang++"]:
        if candidate and shutil.which(candidate):
            reasons.append(f"C++ compiler {shutil.which(candidate)}")
            break
    else:
        return False, "no C++ compiler found (set CXX or install g++/clang++): inductor cannot build CPU kernels"
    if torch.cuda.is_available():
        if importlib.util.find_spec("triton") is None:
            return False, "a CUDA GPU but no triton: inductor cannot build GPU kernels"
        reasons.append("triton for the GPU")
    return True, ", ".join(reasons)


def format_report(report: dict) -> str:
    torch_line = (f"torch {report['torch']}: device {report['device']} ({report['device_reason']}), "
                  f"{report['torch_threads']} threads on {report['cpu_cores']} cores ({report['thread_reason']})")
    lines = [f"python {report['python']} on {report['platform']}", torch_line,
             "packages: " + ", ".join(f"{k} {v}" for k, v in report["packages"].items()), gpu_line(report)]
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
