"""Beyond one machine: join the process group torchrun prepared, and launch torchrun from a notebook.

Under ``torchrun --nproc_per_node=N script.py`` every process runs the same script; torchrun sets
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``. The Trainer then wraps the model in
DistributedDataParallel (gradients are averaged by PyTorch's all-reduce during ``backward``), gives each
process its own share of every batch, and lets only rank 0 print, plot and write checkpoints.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs, plots and writes checkpoints."""
        return self.rank == 0


def join_process_group(device_preference: str) -> Processes:
    """Single process unless launched by torchrun with WORLD_SIZE > 1; then init the default process
    group (NCCL on GPUs, gloo on CPU) unless the script already did."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Processes()
    if not dist.is_initialized():
        use_gpu = torch.cuda.is_available() and device_preference in ("auto", "cuda")
        if use_gpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if use_gpu else "gloo")
        atexit.register(_leave_process_group)
    return Processes(dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_world_size())


def _leave_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def launch_torchrun(script_path: str | Path, nproc: int = 2, args: list[str] | tuple = (),
                    env: dict | None = None, check: bool = True) -> int:
    """Run ``torchrun --standalone --nproc_per_node=nproc script_path *args`` from a notebook cell, printing
    its output as it comes. Returns the exit code; raises with the last lines when it fails and ``check``.
    """
    script_path = Path(script_path)
    if not script_path.is_file():
        raise FileNotFoundError(f"No training script at {script_path}: write it first (e.g. with "
                                "%%writefile in a notebook cell).")
    if not (isinstance(nproc, int) and nproc >= 1):
        raise ValueError(f"nproc={nproc!r} must be a whole number >= 1 (one process per GPU, or a few "
                         "on CPU).")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               str(script_path), *map(str, args)]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    tail = deque(maxlen=20)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=full_env) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            tail.append(line)
    if check and process.returncode != 0:
        raise RuntimeError(f"torchrun exited with code {process.returncode}: {' '.join(command)}\n"
                           f"Last lines:\n{''.join(tail)}")
    return process.returncode
