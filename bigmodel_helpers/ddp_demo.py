"""Chapter 5's data-parallel demo: a small MNIST MLP trained by the course ``Trainer``, as a script that
``torchrun`` launches (``launch_torchrun(ddp_demo.__file__, nproc=2, args=[...])``) and as a function the
notebook calls in its own process, so the two runs can be compared weight for weight. With ``--fsdp-json``
the same launch then runs ``fsdp_comparison``: the model sharded with FSDP2 (``fully_shard``) on the same
processes, its bytes per rank against a full replica, and its weights against one unsharded process.

The images come from a safetensors file the notebook writes (``x`` float32 (N, 784), ``y`` int64 (N,)), so
every process reads exactly the same data without loading MNIST again.
"""

from __future__ import annotations

import argparse
import json
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


def fsdp_comparison(data_path: str | Path, steps: int, batch_size: int, seed: int = 0, lr: float = 1e-3) -> dict:
    """Sharded data parallelism (FSDP2, ``torch.distributed.fsdp.fully_shard``) next to plain replication, in
    the process group torchrun made. Every rank trains the same MLP (wider than the DDP one, so the shards are
    visible) for ``steps`` AdamW steps on the same global batches (``batch_size`` per rank, taken in order);
    rank 0 then trains an unsharded copy on the whole global batches in its own process, and the gathered
    FSDP weights must equal it. Returns bytes per rank (parameters, gradients, Adam moments) for FSDP and for
    a full replica (what DDP keeps on every rank), the max |difference| of the weights, and a status line.
    If this torch has no ``fully_shard`` or it refuses to run here, returns ``{"status": <why>}`` instead.
    """
    import torch.distributed as dist
    try:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard
    except ImportError as error:   # an older or a stripped-down torch
        return {"status": f"torch.distributed.fsdp.fully_shard is not available here: {error}"}
    rank, world = dist.get_rank(), dist.get_world_size()
    tensors = load_file(str(data_path))
    x, y = tensors["x"], tensors["y"]
    sharded = make_mlp(seed, hidden=512)
    replica = make_mlp(seed, hidden=512)
    try:
        mesh = init_device_mesh("cpu", (world,))
        for layer in sharded:
            if isinstance(layer, torch.nn.Linear):
                fully_shard(layer, mesh=mesh)
        fully_shard(sharded, mesh=mesh)
    except Exception as error:  # noqa: BLE001 -- report what this torch/backend refused, keep the DDP result
        return {"status": f"fully_shard on CPU/{dist.get_backend()} failed: {type(error).__name__}: {error}"}
    opt = torch.optim.AdamW(sharded.parameters(), lr=lr)
    global_batch = batch_size * world
    for step in range(steps):
        lo = (step * global_batch) % (len(x) - global_batch)
        mine = slice(lo + rank * batch_size, lo + (rank + 1) * batch_size)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(sharded(x[mine]), y[mine]).backward()
        opt.step()

    def local_bytes(tensors_):
        return sum((t.to_local() if hasattr(t, "to_local") else t).numel() * t.element_size() for t in tensors_)

    moments = [v for state in opt.state.values() for v in state.values() if torch.is_tensor(v) and v.dim() > 0]
    report = {"status": "ok", "world_size": world, "parameters": sum(p.numel() for p in replica.parameters()),
              "fsdp_param_bytes": local_bytes(list(sharded.parameters())),
              "fsdp_grad_bytes": local_bytes([p.grad for p in sharded.parameters() if p.grad is not None]),
              "fsdp_adam_bytes": local_bytes(moments),
              "replica_param_bytes": sum(p.numel() * p.element_size() for p in replica.parameters())}
    report["replica_grad_bytes"] = report["replica_param_bytes"]
    report["replica_adam_bytes"] = 2 * report["replica_param_bytes"]
    full = [p.full_tensor().detach() for p in sharded.parameters()]   # a collective: every rank takes part
    if rank == 0:
        opt_ref = torch.optim.AdamW(replica.parameters(), lr=lr)
        for step in range(steps):
            lo = (step * global_batch) % (len(x) - global_batch)
            opt_ref.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(replica(x[lo:lo + global_batch]), y[lo:lo + global_batch]).backward()
            opt_ref.step()
        report["max_abs_diff"] = max((a - b).abs().max().item() for a, b in zip(full, replica.parameters()))
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="safetensors file with x (N, 784) and y (N,)")
    parser.add_argument("--out", required=True, help="final weights; '.rankN.safetensors' is appended")
    parser.add_argument("--max-steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--fsdp-json", default=None, help="also run fsdp_comparison; rank 0 writes its report here")
    parser.add_argument("--fsdp-steps", type=int, default=5)
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
    if args.fsdp_json:
        report = fsdp_comparison(args.data, args.fsdp_steps, args.batch_size)
        if trainer.procs.main:
            Path(args.fsdp_json).write_text(json.dumps(report, indent=1))
            print(f"FSDP: {report['status']}", flush=True)


if __name__ == "__main__":
    main()
