"""What one training step costs with LoRA vs full fine-tuning, measured in a fresh process (chapter 9).

A process's peak resident memory only ever grows, so a notebook that already held several models cannot
measure a step's peak; a fresh process per mode can. On Linux the peak (``VmHWM``) is reset after the model
is loaded (``/proc/self/clear_refs``), so the growth is the training steps' own; elsewhere ``ru_maxrss`` is used
and the loading peak may hide part of it (``memory_method`` says which):

    python -m bigmodel_helpers.models.lora_cost --mode lora --batch 8 --seq 64 --steps 3

loads SmolLM2 (the offline course model), runs one warm-up and ``--steps`` timed AdamW steps on random token
ids of shape (batch, seq), and prints one JSON line: seconds per step, the peak RSS after loading the model
and at the end (bytes), trainable parameters, and the bytes of the checkpoint one would ship.

``measure_both(batch, seq, steps)`` runs the two modes in two fresh processes that import and load at the
same time (the slow, single-threaded part) and then take turns, through a file lock, for the timed steps,
so neither step time shares the cores with the other process (where ``fcntl`` is missing, one after the
other).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

try:
    import fcntl
except ImportError:   # Windows: no flock; measure_both then runs the modes one after the other
    fcntl = None


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


def wait_for_all(lock_path: str | None, parties: int, timeout: float = 600) -> None:
    """A barrier: mark this process ready next to ``lock_path``; return once ``parties`` processes are."""
    if lock_path is None or parties <= 1:
        return
    folder = os.path.dirname(lock_path) or "."
    open(os.path.join(folder, f"ready.{os.getpid()}"), "w").close()
    deadline = time.monotonic() + timeout
    while sum(name.startswith("ready.") for name in os.listdir(folder)) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only some of the {parties} processes got ready within {timeout:.0f} s")
        time.sleep(0.05)


@contextlib.contextmanager
def exclusive(lock_path: str | None):
    """Hold an exclusive ``flock`` on ``lock_path`` (waiting for it without using the CPU); no-op for None."""
    if lock_path is None or fcntl is None:
        yield
        return
    with open(lock_path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def measure(mode: str, batch: int, seq: int, steps: int, r: int = 8, alpha: float = 16,
            targets=("q_proj", "v_proj"), seed: int = 0, lock_path: str | None = None, parties: int = 1) -> dict:
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
    wait_for_all(lock_path, parties)   # every process has loaded its model: nobody imports any more
    with exclusive(lock_path):         # and the timed part runs alone (see measure_both)
        method = _reset_peak()
        loaded, times = _current_rss(method), []
        for _ in range(steps + 1):
            t0 = time.perf_counter()
            model(input_ids=ids, labels=ids).loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t0)
        peak = _peak_rss(method)
        shipped = lora_state_dict(model) if mode == "lora" else model.state_dict()
    return {"mode": mode, "seconds_per_step": sum(times[1:]) / steps, "rss_loaded": loaded,
            "peak_rss_end": peak, "memory_method": method, "trainable": sum(p.numel() for p in params),
            "checkpoint_bytes": _unique_bytes(shipped.values())}


def _unique_bytes(tensors) -> int:
    """Bytes of the distinct storages (a tied input/output embedding is listed twice but stored once)."""
    seen = {}
    for t in tensors:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def measure_both(batch: int, seq: int, steps: int, timeout: float = 600) -> dict:
    """``{"lora": measure(...), "full": measure(...)}``, each from its own fresh process (see the docstring)."""
    modes = ("lora", "full")
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", __name__, "--batch", str(batch), "--seq", str(seq), "--steps", str(steps)]
        if fcntl is None:
            return {mode: json.loads(subprocess.run(command + ["--mode", mode], capture_output=True, text=True,
                                                    check=True, timeout=timeout).stdout.strip().splitlines()[-1])
                    for mode in modes}
        lock = os.path.join(tmp, "steps.lock")
        with contextlib.ExitStack() as stack:   # outputs go to files: a chatty process never blocks on a pipe
            logs = {mode: [stack.enter_context(open(os.path.join(tmp, f"{mode}.{kind}"), "w+")) for kind in ("out", "err")]
                    for mode in modes}
            procs = {mode: subprocess.Popen(command + ["--mode", mode, "--lock", lock, "--parties", "2"],
                                            stdout=out, stderr=err, text=True) for mode, (out, err) in logs.items()}
            deadline = time.monotonic() + timeout
            try:   # wait for both; if one fails, stop the other (it would wait at the barrier)
                while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
                    if any(p.returncode for p in procs.values()):
                        break
                    time.sleep(0.1)
            finally:
                for proc in procs.values():
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
            results = {}
            for mode, (out, err) in logs.items():
                out.seek(0), err.seek(0)
                text = out.read()
                if procs[mode].returncode:
                    raise subprocess.CalledProcessError(procs[mode].returncode, procs[mode].args, text, err.read())
                results[mode] = json.loads(text.strip().splitlines()[-1])
            return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("lora", "full"), required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--lock", default=None, help="a file to flock around the timed steps")
    parser.add_argument("--parties", type=int, default=1, help="processes to wait for before the timed steps")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.mode, args.batch, args.seq, args.steps, lock_path=args.lock,
                             parties=args.parties)))


if __name__ == "__main__":
    main()
