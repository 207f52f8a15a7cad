"""What one training step costs with LoRA vs full fine-tuning, measured in a fresh process (chapter 9).

A process's peak resident memory only ever grows, so a notebook that already held several models cannot
measure a step's peak; a fresh process per mode can. On Linux the peak (``VmHWM``) is reset after the model
is loaded (``/proc/self/clear_refs``), so the growth is the training steps' own; elsewhere ``ru_maxrss`` is used
and the loading peak may hide part of it (``memory_method`` says which):

    python -m bigmodel_helpers.models.lora_cost --mode lora --batch 8 --seq 64 --steps 3

loads SmolLM2 (the offline course model), runs one warm-up and ``--steps`` timed AdamW steps on random token
ids of shape (batch, seq), and prints one JSON line: seconds per step, the peak RSS after loading the model
and at the end (bytes), trainable parameters, and the bytes of the checkpoint one would ship.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in lines if line.startswith(field + ":")), None)


def _reset_peak() -> str:
    """Reset the kernel's peak-RSS counter where possible; returns how memory will be measured."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return "VmHWM reset after loading"
    except OSError:
        return "ru_maxrss (includes the loading peak)"


def _peak_rss(method: str) -> int:
    if method.startswith("VmHWM"):
        return _status_kib("VmHWM") * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux and BSD report KiB


def _current_rss(method: str) -> int:
    kib = _status_kib("VmRSS") if method.startswith("VmHWM") else None
    return kib * 1024 if kib is not None else _peak_rss(method)


def measure(mode: str, batch: int, seq: int, steps: int, r: int = 8, alpha: float = 16,
            targets=("q_proj", "v_proj"), seed: int = 0) -> dict:
    import torch

    from ..assets import load_causal_lm
    from .lora import inject_lora, lora_state_dict
    if mode not in ("lora", "full"):
        raise ValueError(f"mode={mode!r} must be 'lora' or 'full'.")
    if min(batch, seq, steps) < 1:
        raise ValueError("batch, seq and steps must be >= 1.")
    torch.manual_seed(seed)
    _, model, _ = load_causal_lm("cpu")
    if mode == "lora":
        inject_lora(model, list(targets), r=r, alpha=alpha)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq))
    with torch.no_grad():   # touch every weight once (a memory-mapped checkpoint is paged in lazily)
        model(input_ids=ids[:1, :8])
    model.train()
    gc.collect()
    method = _reset_peak()
    loaded, times = _current_rss(method), []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    shipped = lora_state_dict(model) if mode == "lora" else model.state_dict()
    return {"mode": mode, "seconds_per_step": sum(times[1:]) / steps, "rss_loaded": loaded,
            "peak_rss_end": _peak_rss(method), "memory_method": method, "trainable": sum(p.numel() for p in params),
            "checkpoint_bytes": _unique_bytes(shipped.values())}


def _unique_bytes(tensors) -> int:
    """Bytes of the distinct storages (a tied input/output embedding is listed twice but stored once)."""
    seen = {}
    for t in tensors:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("lora", "full"), required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.mode, args.batch, args.seq, args.steps)))


if __name__ == "__main__":
    main()
