"""Timing helpers several chapters share: the machine's matrix-multiply rate (what MFU is measured against),
latency percentiles of a repeated call, and the bytes a model occupies.

Timings on a shared machine are noisy: compare two things by measuring them side by side in one run
(interleaved), and report ratios rather than absolute seconds.
"""

from __future__ import annotations

import statistics
import time

import torch


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work (timing an asynchronous device without this measures only the launch)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def matmul_gflops(n: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> float:
    """Measured rate of an ``n x n`` matrix multiply in GFLOP/s (2 n^3 FLOPs each), the best of ``repeats``
    timed runs after one warm-up. The best, not the mean: other programs can only slow a run down, so the
    fastest run is the closest to what the hardware does."""
    if not (isinstance(n, int) and n >= 1 and isinstance(repeats, int) and repeats >= 1):
        raise ValueError(f"matmul_gflops needs whole numbers n >= 1 and repeats >= 1, got n={n!r}, "
                         f"repeats={repeats!r}.")
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = min(seconds_per_call(lambda: a @ b, repeats=repeats, warmup=1, device=device))
    return 2 * n ** 3 / best / 1e9


def seconds_per_call(fn, repeats: int = 10, warmup: int = 1, device: torch.device | str = "cpu") -> list[float]:
    """Wall seconds of each of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """p50, p95 and mean of a list of latencies, in milliseconds (p95 by linear interpolation)."""
    if not seconds:
        raise ValueError("latency_summary needs at least one timing.")
    ms = sorted(s * 1e3 for s in seconds)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[-1] if len(ms) > 1 else ms[0]
    return {"p50_ms": statistics.median(ms), "p95_ms": p95, "mean_ms": statistics.fmean(ms)}


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of a model's parameters and buffers in memory (a tensor shared by two names counts once)."""
    seen, total = set(), 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.data_ptr() not in seen:
            seen.add(tensor.data_ptr())
            total += tensor.numel() * tensor.element_size()
    return total
