"""How fast is the course GPT? Hand-written vs fused attention, with and without biases, trained by the course
``Trainer`` on nanoGPT's CPU recipe for Shakespeare characters; then generation with and without the KV cache.

    python bench/bench_gpt.py                          # about 3 minutes on 2 CPU cores
    python bench/bench_gpt.py --steps 40 --repeats 2   # a quick look

Training (nanoGPT's ``train_shakespeare_char`` CPU settings: n_layer=4, n_head=4, n_embd=128, block 64,
batch 12, dropout 0, lr 1e-3, AdamW betas (0.9, 0.99), weight decay 0.1, clip 1.0, cosine schedule): three
variants, (a) manual attention + bias, (b) fused attention + bias, (c) fused + bias=False. Each is warmed up
once, then the runs are interleaved (abcabc...) so that a neighbour's load hits all alike; the table gives the
median tokens/s (wall time of ``fit()``, data loading included, model construction not), the ratio to (a),
and MFU: ``flops_per_token`` (6N + 12 L C T) x tokens/s over the measured fp32 matrix-multiply rate of this
machine (``bigmodel_helpers.measure.matmul_gflops``, not a datasheet peak). The validation loss of each
variant after the same steps is taken on the same fixed held-out windows, beside (a) with another seed.
Also: the cost of the token-id check in ``GPT.forward`` against one step.

Generation: seconds per new token with and without the ``KVCache`` at several context lengths (one decoding
step at that length, batch 1; and whole ``generate`` calls), on an untrained model with a longer block (the
speed does not depend on the weights). Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bigmodel_helpers import assets
from bigmodel_helpers.models.gpt import GPT, GPTConfig, KVCache, check_token_ids, flops_per_token
from bigmodel_helpers.train import TrainConfig, Trainer

VARIANTS = {"(a) manual + bias": {"attention": "manual", "bias": True},
            "(b) fused + bias": {"attention": "fused", "bias": True},
            "(c) fused, no bias": {"attention": "fused", "bias": False}}
BLOCK, BATCH = 64, 12


# ------------------------------------------------------------------------------------------------ data
def shakespeare_windows(block: int = BLOCK, val_windows: int = 200):
    """Characters of all plays: the first 90% as non-overlapping training windows, the last 10% as
    ``val_windows`` fixed held-out windows (inputs, next-character targets)."""
    text = "\n".join(play.text for play in assets.load_shakespeare())
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    split = int(0.9 * len(ids))

    def windows(part: torch.Tensor, limit: int | None = None) -> TensorDataset:
        w = part[: len(part) // (block + 1) * (block + 1)].view(-1, block + 1)[:limit]
        return TensorDataset(w[:, :-1].contiguous(), w[:, 1:].contiguous())

    return len(vocab), windows(ids[:split]), windows(ids[split:], val_windows)


# -------------------------------------------------------------------------------------------- training
def train_config(steps: int, seed: int = 0) -> TrainConfig:
    return TrainConfig(max_steps=steps, batch_size=BATCH, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99),
                       warmup_steps=max(1, steps // 20), schedule="cosine", min_lr_ratio=0.1, clip_norm=1.0,
                       eval_batch_size=50, progress=False, device="cpu", seed=seed)


def train_once(cfg: GPTConfig, steps: int, train, val, seed: int = 0) -> tuple[float, float]:
    """(tokens per wall second of ``fit()``, validation loss afterwards); ``seed``: initialisation, data order."""
    torch.manual_seed(seed)
    trainer = Trainer(GPT(cfg), train_config(steps, seed), train)
    with contextlib.redirect_stdout(io.StringIO()):   # the end-of-run summary
        start = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - start
    return steps * BATCH * BLOCK / seconds, trainer.evaluate(val)["val_loss"]


def bench_training(vocab: int, train, val, steps: int, repeats: int) -> dict:
    configs = {name: GPTConfig(vocab_size=vocab, block_size=BLOCK, n_layer=4, n_head=4, n_embd=128, dropout=0.0,
                               **switches) for name, switches in VARIANTS.items()}
    for cfg in configs.values():   # warm-up: allocator, kernels, first-call costs
        train_once(cfg, max(2, steps // 10), train, val)
    rates = {name: [] for name in configs}
    losses = {}
    for _ in range(repeats):
        for name, cfg in configs.items():
            rate, losses[name] = train_once(cfg, steps, train, val)   # same seed: the same loss each repeat
            rates[name].append(rate)
    # The yardstick for "within noise": (a) again with another seed (initialisation and data order).
    other_seed = train_once(configs["(a) manual + bias"], steps, train, val, seed=1)[1]
    return {"configs": configs, "rates": rates, "val_loss": losses, "other_seed": other_seed}


def training_table(result: dict, steps: int, gflops: float) -> str:
    rates, configs = result["rates"], result["configs"]
    base = statistics.median(rates["(a) manual + bias"])
    lines = [f"Training: {steps} steps of {BATCH} x {BLOCK} tokens; matmul rate {gflops:.1f} GFLOP/s (fp32)",
             f"  {'variant':<20}{'params':>9}{'tokens/s':>10}{'vs (a)':>8}{'MFU':>7}{'val loss':>10}   runs"]
    for name, by_run in rates.items():
        cfg, rate = configs[name], statistics.median(by_run)
        mfu = flops_per_token(cfg, BLOCK) * rate / (gflops * 1e9)
        runs = ", ".join(f"{v:,.0f}" for v in by_run)
        lines.append(f"  {name:<20}{GPT(cfg).num_parameters():>9,}{rate:>10,.0f}{rate / base:>7.3f}x{mfu:>7.1%}"
                     f"{result['val_loss'][name]:>10.4f}   {runs}")
    lines.append(f"  (a) with seed 1 instead of 0: val loss {result['other_seed']:.4f} (seed-to-seed noise: "
                 f"{abs(result['other_seed'] - result['val_loss']['(a) manual + bias']):.4f})")
    return "\n".join(lines)


def check_cost(vocab: int, train, seconds_per_step: float) -> str:
    """The token-id check that ``GPT.forward`` runs on CPU tensors, timed alone on one training batch."""
    idx = train.tensors[0][:BATCH]
    times = []
    for _ in range(2000):
        start = time.perf_counter()
        check_token_ids(idx, vocab)
        times.append(time.perf_counter() - start)
    cost = statistics.median(times)
    return (f"Token-id check in forward: {cost * 1e6:.1f} us per call = {cost / seconds_per_step:.3%} of a "
            f"training step ({seconds_per_step * 1e3:.1f} ms)")


# ------------------------------------------------------------------------------------------ generation
@torch.no_grad()
def step_seconds(model: GPT, context: int, use_cache: bool, repeats: int) -> list[float]:
    """Seconds for one decoding step at ``context`` tokens (batch 1): with the cache, one new position on
    top of ``context - 1`` cached ones; without, the whole context again."""
    idx = torch.randint(0, model.cfg.vocab_size, (1, context))
    prefilled = [KVCache() for _ in model.h]
    model(idx[:, :-1], cache=prefilled)
    times = []
    for _ in range(repeats):
        cache = None
        if use_cache:   # a fresh copy each time: a step appends to the cache
            cache = [KVCache() for _ in model.h]
            for fresh, full in zip(cache, prefilled):
                fresh.k, fresh.v = full.k, full.v
        start = time.perf_counter()
        model.next_token_logits(idx, cache)
        times.append(time.perf_counter() - start)
    return times


@torch.no_grad()
def generate_seconds(model: GPT, new_tokens: int, use_cache: bool) -> float:
    idx = torch.zeros(1, 1, dtype=torch.long)
    start = time.perf_counter()
    model.generate(idx, new_tokens, top_k=10, generator=torch.Generator().manual_seed(0), use_cache=use_cache)
    return (time.perf_counter() - start) / new_tokens


def bench_generation(vocab: int, block: int, contexts: list[int], repeats: int) -> str:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=4, n_head=4, n_embd=128)).eval()
    lines = [f"Generation (batch 1, block_size {block}): seconds per new token",
             f"  {'context':>8}{'no cache':>12}{'KV cache':>12}{'speed-up':>10}"]
    for context in contexts:
        step_seconds(model, context, True, 3), step_seconds(model, context, False, 3)   # warm-up
        cached, uncached = [], []
        for _ in range(repeats):   # interleaved
            cached += step_seconds(model, context, True, 5)
            uncached += step_seconds(model, context, False, 5)
        c, u = statistics.median(cached), statistics.median(uncached)
        lines.append(f"  {context:>8}{u * 1e3:>10.2f}ms{c * 1e3:>10.2f}ms{u / c:>9.1f}x")
    for new_tokens in (block, 2 * block):
        cached, uncached = [], []
        for _ in range(max(1, repeats // 2)):
            cached.append(generate_seconds(model, new_tokens, True))
            uncached.append(generate_seconds(model, new_tokens, False))
        c, u = statistics.median(cached), statistics.median(uncached)
        lines.append(f"  generate({new_tokens} tokens from 1): {u * 1e3:.2f} ms vs {c * 1e3:.2f} ms per token, "
                     f"{u / c:.1f}x" + ("  (past block_size the cache falls back to the window)"
                                       if new_tokens > block else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per training run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads (default: all)")
    parser.add_argument("--gen-block", type=int, default=512, help="block_size of the generation model")
    parser.add_argument("--skip-generation", action="store_true")
    args = parser.parse_args(argv)
    from bigmodel_helpers.measure import matmul_gflops  # the course's one matmul-rate method

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), fp32 on cpu", flush=True)
    vocab, train, val = shakespeare_windows()
    gflops = matmul_gflops(n=1024, repeats=10, dtype=torch.float32, device="cpu")
    result = bench_training(vocab, train, val, args.steps, args.repeats)
    print(training_table(result, args.steps, gflops), flush=True)
    rate = statistics.median(result["rates"]["(b) fused + bias"])
    print(check_cost(vocab, train, BATCH * BLOCK / rate), flush=True)
    if not args.skip_generation:
        contexts = [c for c in (16, 64, 128, 256, 512) if c <= args.gen_block]
        print(bench_generation(vocab, args.gen_block, contexts, args.repeats), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
