"""How fast is the course Trainer? Side by side with a minimal hand-written PyTorch loop and Hugging Face's
``transformers.Trainer``: same model, same data, same optimizer settings, same number of steps.

    python bench/bench_trainer.py                    # about 2 minutes on 2 CPU cores
    python bench/bench_trainer.py --steps 100 --gpt-steps 10 --repeats 2     # a quick look

Workloads: (a) an MLP on MNIST (throughput in samples/s), (b) a ~1M-parameter GPT (the course's
``bigmodel_helpers.models.gpt``) on Shakespeare characters (tokens/s). Every contender is warmed up once, then the
runs are interleaved (ABCABC...) so that a neighbour's load hits all of them alike; the table reports the
median throughput and its ratio to the hand-written loop. Timings are wall time of the training call
(``fit()``, the loop, ``train()``), data loading included; model construction is not timed.
Progress bars are off for all three. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bigmodel_helpers import assets
from bigmodel_helpers.models.gpt import GPT, GPTConfig
from bigmodel_helpers.train import TrainConfig, Trainer, lr_at


# ------------------------------------------------------------------------------------------- workloads
class Workload:
    """A model factory, the data as tensors, and how a model turns (inputs, targets) into a loss."""

    def __init__(self, name, unit, make_model, inputs, targets, batch_size, lr, items_per_step):
        self.name, self.unit, self.make_model = name, unit, make_model
        self.inputs, self.targets, self.batch_size, self.lr = inputs, targets, batch_size, lr
        self.items_per_step = items_per_step

    @property
    def model_has_loss(self) -> bool:
        return self.unit == "tokens"  # the GPT: model(idx, targets) -> (logits, loss)

    def loss(self, model, inputs, targets):
        if self.model_has_loss:
            return model(inputs, targets)[1]
        return F.cross_entropy(model(inputs), targets)


def mnist_workload(synthetic: bool = False) -> Workload:
    if synthetic:  # same shapes and dtypes; the speed does not depend on the values
        x, y = torch.rand(50_000, 784).numpy(), torch.randint(0, 10, (50_000,)).numpy()
    else:
        x, y = assets.load_mnist()["train"]
    make = lambda: torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    return Workload("MLP on MNIST", "samples", make, torch.from_numpy(x), torch.from_numpy(y), 128, 1e-3, 128)


def shakespeare_workload(synthetic: bool = False, chars: int = 1_000_000, block: int = 64) -> Workload:
    if synthetic:
        text = "".join(chr(32 + int(i)) for i in torch.randint(0, 80, (chars,)))
    else:
        text = "\n".join(play.text for play in assets.load_shakespeare())[:chars]
    vocab = sorted(set(text))
    ids = _encode(text, vocab)
    windows = ids[: len(ids) // (block + 1) * (block + 1)].view(-1, block + 1)
    cfg = GPTConfig(vocab_size=len(vocab), block_size=block, n_layer=5, n_head=4, n_embd=128)
    return Workload(
        f"GPT {GPT(cfg).num_parameters() / 1e6:.2f}M on Shakespeare chars",
        "tokens",
        lambda: GPT(cfg),
        windows[:, :-1].contiguous(),
        windows[:, 1:].contiguous(),
        16,
        1e-3,
        16 * block,
    )


def _encode(text: str, vocab: list[str]) -> torch.Tensor:
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([index[c] for c in text], dtype=torch.long)


# ----------------------------------------------------------------------------------------- contenders
def config(w: Workload, steps: int, device: str) -> TrainConfig:
    return TrainConfig(
        max_steps=steps,
        batch_size=w.batch_size,
        lr=w.lr,
        weight_decay=0.01,
        warmup_steps=steps // 10,
        clip_norm=1.0,
        schedule="cosine",
        log_every=10,
        progress=False,
        device=device,
    )


def course_trainer(w: Workload, steps: int, device: str) -> float:
    torch.manual_seed(0)
    cfg = config(w, steps, device)
    loss_fn = None if w.model_has_loss else F.cross_entropy
    trainer = Trainer(w.make_model(), cfg, TensorDataset(w.inputs, w.targets), loss_fn=loss_fn)
    start = _clock()
    trainer.fit()
    return _synced(start, device)


def hand_loop(w: Workload, steps: int, device: str) -> float:
    """What one writes by hand (as nanoGPT does): shuffled index batches, AdamW with weight decay on the
    matrices only, clipping, the same LR schedule. Same arithmetic as the course Trainer."""
    torch.manual_seed(0)
    cfg = config(w, steps, device)
    model = w.make_model().to(device)
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.01},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=w.lr,
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda")
    start = _clock()
    order, position = torch.randperm(len(w.inputs)), 0
    for step in range(steps):
        if position + w.batch_size > len(order):
            order, position = torch.randperm(len(w.inputs)), 0
        index = order[position : position + w.batch_size]
        position += w.batch_size
        inputs, targets = w.inputs[index].to(device), w.targets[index].to(device)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(cfg, step)
        with autocast:
            loss = w.loss(model, inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    loss.item()
    return _synced(start, device)


class DictDataset(Dataset):
    """Hugging Face's Trainer wants dict samples."""

    def __init__(self, w: Workload):
        self.w = w

    def __len__(self):
        return len(self.w.inputs)

    def __getitem__(self, i):
        return {"inputs": self.w.inputs[i], "labels": self.w.targets[i]}


class WithLoss(torch.nn.Module):
    """Hugging Face's Trainer wants ``model(**batch)`` to return the loss."""

    def __init__(self, w: Workload):
        super().__init__()
        self.w, self.model = w, w.make_model()

    def forward(self, inputs, labels):
        return {"loss": self.w.loss(self.model, inputs, labels)}


def hf_trainer(w: Workload, steps: int, device: str) -> float:
    import transformers

    torch.manual_seed(0)
    model = WithLoss(w)
    with tempfile.TemporaryDirectory() as out:
        args = transformers.TrainingArguments(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=w.batch_size,
            learning_rate=w.lr,
            weight_decay=0.01,
            lr_scheduler_type="cosine",
            warmup_steps=steps // 10,
            max_grad_norm=1.0,
            logging_steps=10,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=device == "cpu",
            bf16=device == "cuda",
            dataloader_num_workers=0,
            seed=0,
        )
        trainer = transformers.Trainer(model=model, args=args, train_dataset=DictDataset(w))
        trainer.remove_callback(transformers.PrinterCallback)  # it prints every log as a dict
        start = _clock()
        trainer.train()
        return _synced(start, device)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _synced(start: tuple[float, float], device: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) since ``start``."""
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start[0], time.process_time() - start[1]


CONTENDERS = {"course Trainer": course_trainer, "hand-written loop": hand_loop, "HF Trainer": hf_trainer}


# ------------------------------------------------------------------------------------------------ main
def measure(w: Workload, steps: int, repeats: int, device: str) -> dict[str, dict[str, list[float]]]:
    """Throughput (items per wall second and per CPU second of the process) of every contender: one
    warm-up each, then ``repeats`` interleaved rounds."""
    for run in CONTENDERS.values():
        with contextlib.redirect_stdout(io.StringIO()):
            run(w, max(2, steps // 10), device)
    rates = {name: {"wall": [], "cpu": []} for name in CONTENDERS}
    for _ in range(repeats):
        for name, run in CONTENDERS.items():
            with contextlib.redirect_stdout(io.StringIO()):  # end-of-run summaries
                wall, cpu = run(w, steps, device)
            rates[name]["wall"].append(w.items_per_step * steps / wall)
            rates[name]["cpu"].append(w.items_per_step * steps / cpu)
    return rates


def table(w: Workload, steps: int, rates: dict, device: str) -> str:
    """Medians and ratios to the hand-written loop. On CPU (one thread) the CPU-time column is steadier on
    a shared machine: other processes' load barely changes it."""
    clocks = ("wall", "cpu") if device == "cpu" else ("wall",)
    hand = {c: statistics.median(rates["hand-written loop"][c]) for c in clocks}
    head = "".join(f" {c + '-time ' + w.unit + '/s':>24} {'vs hand':>8}" for c in clocks)
    lines = [
        f"{w.name}: {steps} steps of {w.items_per_step} {w.unit}",
        f"  {'contender':<18}{head}   wall runs",
    ]
    for name, by_clock in rates.items():
        cells = "".join(
            f" {statistics.median(by_clock[c]):>24,.0f} {statistics.median(by_clock[c]) / hand[c]:>7.3f}x"
            for c in clocks
        )
        runs = ", ".join(f"{v:,.0f}" for v in by_clock["wall"])
        lines.append(f"  {name:<18}{cells}   {runs}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per MNIST run")
    parser.add_argument("--gpt-steps", type=int, default=30, help="optimizer steps per GPT run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per workload")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="random data of the same shapes (for machines without the course's data packages)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: steadier numbers on a shared machine)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import transformers  # imported up front so its import time is not charged to a contender

    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, device {args.device}, "
        f"{torch.get_num_threads()} thread(s); bf16 autocast for all on cuda, fp32 on cpu"
        f"{'; synthetic data' if args.synthetic else ''}"
    )
    for make, steps in ((mnist_workload, args.steps), (shakespeare_workload, args.gpt_steps)):
        w = make(args.synthetic)
        print(table(w, steps, measure(w, steps, args.repeats, args.device), args.device), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
