"""Chapter 5's data-parallel demo: a small MNIST MLP trained by the course ``Trainer``, as a script that
``torchrun`` launches (``launch_torchrun(ddp_demo.__file__, nproc=2, args=[...])``) and as a function the
notebook calls in its own process, so the two runs can be compared weight for weight.

The images come from a safetensors file the notebook writes (``x`` float32 (N, 784), ``y`` int64 (N,)), so
every process reads exactly the same data without loading MNIST again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_model
from torch.utils.data import TensorDataset

if __package__ in (None, ""):   # run as a script by torchrun: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bigmodel_helpers.env import apply_thread_policy
from bigmodel_helpers.train import TrainConfig, Trainer


def make_mlp(seed: int = 0, hidden: int = 128) -> torch.nn.Module:
    """784 -> hidden -> 10 with ReLU; no dropout and no batch norm, so its gradient does not depend on how a
    batch is split across processes."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(784, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))


def make_trainer(data_path: str | Path, max_steps: int, batch_size: int, grad_accum: int = 1, seed: int = 0,
                 lr: float = 1e-3) -> Trainer:
    """The Trainer both runs use; ``batch_size`` is per process (the global batch is batch_size x processes
    x grad_accum)."""
    tensors = load_file(str(data_path))
    dataset = TensorDataset(tensors["x"], tensors["y"])
    cfg = TrainConfig(max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum, lr=lr, seed=seed,
                      warmup_steps=0, log_every=max(1, max_steps // 4), progress=False, device="cpu")
    return Trainer(make_mlp(seed), cfg, dataset, loss_fn=torch.nn.functional.cross_entropy)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="safetensors file with x (N, 784) and y (N,)")
    parser.add_argument("--out", required=True, help="final weights; '.rankN.safetensors' is appended")
    parser.add_argument("--max-steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--grad-accum", type=int, default=1)
    args = parser.parse_args(argv)
    apply_thread_policy()   # the course's one policy: torchrun sets OMP_NUM_THREADS=1, one thread per process
    trainer = make_trainer(args.data, args.max_steps, args.batch_size, args.grad_accum)
    history = trainer.fit()
    out = f"{args.out}.rank{trainer.procs.rank}.safetensors"
    save_model(trainer.model, out)
    if trainer.procs.main:
        print(f"{trainer.procs.world_size} processes, global batch "
              f"{args.batch_size * args.grad_accum * trainer.procs.world_size}: final loss "
              f"{history['loss'][-1]:.4f} -> {out}", flush=True)


if __name__ == "__main__":
    main()
