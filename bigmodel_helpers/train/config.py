"""``TrainConfig``: every knob of the training loop, as plain data (it is saved inside checkpoints)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..env import DEVICES

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULES = ("cosine", "linear", "constant", "step", "one_cycle")
OPTIMIZERS = ("adamw", "sgd")
ONE_CYCLE_DIV = 25.0   # one-cycle starts at lr / 25, as torch's OneCycleLR does by default


@dataclass
class TrainConfig:
    """What to train for how long, and how.

    Batch sizes: ``batch_size`` samples go through the model at once (per process). One optimizer
    step sees ``batch_size * grad_accum * processes`` samples, the *global batch*.
    Learning rate: linear warm-up over ``warmup_steps``, then ``schedule`` down to ``lr * min_lr_ratio``
    at ``max_steps`` (``constant`` stays at ``lr``; ``step`` multiplies by ``step_gamma`` every
    ``step_every`` steps after the warm-up; ``one_cycle`` is torch's OneCycleLR with cosine annealing:
    ``lr / 25`` rising to ``lr`` over ``warmup_steps``, then down to ``lr * min_lr_ratio``).
    Optimizer: ``adamw`` (decoupled weight decay) or plain ``sgd`` (``momentum``; its ``weight_decay`` is the
    classic L2 term added to the gradient). Both skip weight decay on biases and norms.
    Evaluation, checkpoints and logging happen every ``eval_every`` / ``checkpoint_every`` /
    ``log_every`` optimizer steps; ``None`` means "only at the end".
    """

    max_steps: int = 1000
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01          # AdamW; applied to matrices only, never to biases or norms
    grad_accum: int = 1
    clip_norm: float | None = 1.0       # None: no clipping (the gradient norm is still logged)
    precision: str = "auto"             # auto: bf16 on recent GPUs, fp16 + grad scaler on older, fp32 on CPU
    schedule: str = "cosine"
    warmup_steps: int = 0
    step_every: int | None = None       # "step" schedule: decay every this many steps (None: max_steps // 3)
    step_gamma: float = 0.1             # "step" schedule: factor per decay
    optimizer: str = "adamw"
    momentum: float = 0.0               # sgd only
    min_lr_ratio: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    eval_every: int | None = None
    eval_batch_size: int | None = None  # None: batch_size
    eval_max_batches: int | None = None  # cap evaluation cost on big validation sets
    checkpoint_every: int | None = None
    checkpoint_dir: str | None = None
    keep_checkpoints: int = 1           # newest step checkpoints kept (the best one is kept as well)
    log_every: int = 10                 # history gets one row (window means) every log_every steps
    seed: int = 0                       # data order; dropout etc. (fit() seeds torch, numpy, random)
    time_budget_s: float | None = None
    device: str = "auto"
    compile: bool = False
    drop_last: bool = True              # False: the last step of an epoch is topped up from its start
    num_workers: int = 0                # DataLoader worker processes; 0 loads in the training process
    progress: bool = True               # tqdm progress bar
    plot: bool = False                  # live loss plot when running inside a notebook kernel

    def __post_init__(self):
        _choice("precision", self.precision, PRECISIONS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.step_every is not None:
            _positive_int("step_every", self.step_every)
        if not 0 < self.step_gamma <= 1:
            raise ValueError(f"step_gamma={self.step_gamma!r} must be in (0, 1].")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum={self.momentum!r} must be in [0, 1).")
        if self.optimizer == "adamw" and self.momentum:
            raise ValueError("momentum is an sgd setting; AdamW uses betas.")
        if self.schedule == "one_cycle" and not 2 <= self.warmup_steps < self.max_steps:
            raise ValueError(f"schedule='one_cycle' rises over warmup_steps: give 2 <= warmup_steps < max_steps "
                             f"(got {self.warmup_steps}; torch's default is 30 % of the steps).")
        _choice("device", self.device, DEVICES)
        for name in ("max_steps", "batch_size", "grad_accum", "log_every", "keep_checkpoints"):
            _positive_int(name, getattr(self, name))
        for name in ("eval_every", "checkpoint_every", "eval_batch_size", "eval_max_batches"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        if not (isinstance(self.warmup_steps, int) and 0 <= self.warmup_steps <= self.max_steps):
            raise ValueError(f"warmup_steps={self.warmup_steps!r} must be an int between 0 and max_steps "
                             f"({self.max_steps}).")
        if not (isinstance(self.num_workers, int) and self.num_workers >= 0):
            raise ValueError(f"num_workers={self.num_workers!r} must be an int >= 0.")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r} must be a positive number (e.g. 3e-4).")
        if self.weight_decay < 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError("weight_decay must be >= 0 and min_lr_ratio between 0 and 1.")
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise ValueError(f"clip_norm={self.clip_norm!r} must be > 0, or None to switch clipping off.")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError(f"time_budget_s={self.time_budget_s!r} must be > 0 seconds, or None.")
        if self.checkpoint_dir is not None:
            self.checkpoint_dir = str(self.checkpoint_dir)   # plain data: checkpoints load weights_only
        self.betas = tuple(self.betas)


def _choice(name: str, value, valid: tuple) -> None:
    if value not in valid:
        raise ValueError(f"Unknown {name} {value!r}. Valid: {', '.join(map(repr, valid))}.")


def _positive_int(name: str, value) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{name}={value!r} must be a whole number >= 1.")


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate for optimizer step ``step`` (0-based). A pure function of the step, so resuming
    needs no scheduler state."""
    if cfg.schedule == "one_cycle":
        return _one_cycle(cfg, step)
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    min_lr = cfg.lr * cfg.min_lr_ratio
    if cfg.schedule == "constant" or cfg.max_steps <= cfg.warmup_steps:
        return cfg.lr
    if cfg.schedule == "step":
        every = cfg.step_every or max(1, cfg.max_steps // 3)
        return cfg.lr * cfg.step_gamma ** ((step - cfg.warmup_steps) // every)
    progress = min(1.0, (step - cfg.warmup_steps) / (cfg.max_steps - cfg.warmup_steps))
    if cfg.schedule == "linear":
        return cfg.lr - (cfg.lr - min_lr) * progress
    return min_lr + 0.5 * (cfg.lr - min_lr) * (1 + math.cos(math.pi * progress))


def _one_cycle(cfg: TrainConfig, step: int) -> float:
    """torch.optim.lr_scheduler.OneCycleLR (two phases, cosine annealing) as a pure function of the step, with
    pct_start = warmup_steps / max_steps, div_factor = 25 and the final lr = lr * min_lr_ratio."""
    start, peak, final = cfg.lr / ONE_CYCLE_DIV, cfg.lr, cfg.lr * cfg.min_lr_ratio
    rise_end = float(cfg.warmup_steps) - 1          # OneCycleLR: pct_start * total_steps - 1
    step = min(step, cfg.max_steps - 1)

    def cos(a, b, pct):
        return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)
    if step <= rise_end:
        return cos(start, peak, step / rise_end)
    return cos(peak, final, (step - rise_end) / (cfg.max_steps - 1 - rise_end))
