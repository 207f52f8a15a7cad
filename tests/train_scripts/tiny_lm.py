"""A tiny next-token model trained by the course Trainer; tests/test_train.py runs it as a real process
(plain, killed with SIGKILL, or under torchrun) and compares the final weights.

Environment knobs (test-only): SLOW_STEP_S sleeps in every batch so that the test can kill the process
mid-run; KILL_AT_CHECKPOINT=N makes the process SIGKILL itself inside its N-th checkpoint write, after the
temporary folder is written and before it is renamed.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_model
from torch.utils.data import TensorDataset, default_collate

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout's bigmodel_helpers
from bigmodel_helpers.train import TrainConfig, Trainer, checkpoint

VOCAB, CONTEXT = 16, 8


class TinyLM(torch.nn.Module):
    """Embedding -> MLP with dropout -> head tied to the embedding (like GPT-2)."""

    def __init__(self, dim=16, dropout=0.1):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, dim)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.ReLU(), torch.nn.Dropout(dropout))
        self.head = torch.nn.Linear(dim, VOCAB, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens):  # (B, T) -> (B, T, VOCAB)
        h = self.embed(tokens)
        return self.head(h + self.mlp(h))


def lm_loss(logits, targets):
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())


def make_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, VOCAB, (n, 1), generator=g)
    tokens = (start + torch.arange(CONTEXT + 1)) % VOCAB  # next token = current + 1
    noise = torch.rand(n, CONTEXT + 1, generator=g) < 0.1
    tokens = torch.where(noise, torch.randint(0, VOCAB, tokens.shape, generator=g), tokens)
    return TensorDataset(tokens[:, :-1], tokens[:, 1:])


def slow_collate(samples):
    time.sleep(float(os.environ.get("SLOW_STEP_S", "0")))
    return default_collate(samples)


def install_kill_hook(at: int):
    calls = {"n": 0}

    def kill_in_the_middle_of_writing(tmp_folder):
        calls["n"] += 1
        if calls["n"] == at:
            print(f"killing myself while writing {tmp_folder}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoint.before_commit = kill_in_the_middle_of_writing


def make_trainer(
    out_checkpoint_dir=None, max_steps=30, batch_size=8, grad_accum=1, checkpoint_every=5, dropout=0.1
) -> Trainer:
    torch.manual_seed(1234)
    model = TinyLM(dropout=dropout)
    cfg = TrainConfig(
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=3e-2,
        warmup_steps=3,
        eval_every=10,
        checkpoint_every=checkpoint_every,
        checkpoint_dir=out_checkpoint_dir,
        log_every=5,
        progress=False,
        device="cpu",
    )
    return Trainer(
        model, cfg, make_data(96, seed=1), make_data(24, seed=2), loss_fn=lm_loss, collate_fn=slow_collate
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--out", required=True, help="final weights (.safetensors); '.rankN' added under torchrun"
    )
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=int, default=5)
    parser.add_argument("--dropout", type=float, default=0.1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if os.environ.get("KILL_AT_CHECKPOINT"):
        install_kill_hook(int(os.environ["KILL_AT_CHECKPOINT"]))
    trainer = make_trainer(
        args.checkpoint_dir,
        args.max_steps,
        args.batch_size,
        args.grad_accum,
        args.checkpoint_every,
        args.dropout,
    )
    history = trainer.fit()
    out = args.out
    if trainer.procs.distributed:
        out = f"{out}.rank{trainer.procs.rank}"
    save_model(trainer.model, out)
    print(f"final loss {history['loss'][-1]:.4f} val_loss {history['val_loss'][-1]:.4f} -> {out}", flush=True)


if __name__ == "__main__":
    main()
