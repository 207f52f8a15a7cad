"""The training loop every chapter uses.

    trainer = Trainer(model, TrainConfig(max_steps=500, batch_size=32, lr=3e-4), train_ds, val_ds,
                      loss_fn=torch.nn.functional.cross_entropy)
    history = trainer.fit()     # resumes from cfg.checkpoint_dir when a checkpoint is there

One optimizer step = ``grad_accum`` micro-batches forward and backward (under autocast), then gradient
clipping, AdamW, and the learning-rate schedule. Batches are ``(inputs, targets)`` with a ``loss_fn`` (or
a model that computes its own loss from the targets, like the course GPT), or dicts for Hugging Face
models (``model(**batch).loss``).

The loop never waits for the GPU inside a step: losses and gradient norms stay on the device and are read
(one ``.item()``) only every ``log_every`` steps and before evaluating or saving. That is also where a
non-finite loss is caught, so nothing broken is ever saved.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from contextlib import nullcontext

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..env import pick_device, seed_everything
from .callbacks import check_callbacks, trigger
from .checkpoint import (
    best_checkpoint,
    latest_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    unwrap,
)
from .config import TrainConfig, lr_at
from .data import StepSampler, batch_loader, batch_stream, count_items, to_device
from .distributed import join_process_group
from .plot import LivePlot

NO_LOSS = ("loss_fn is missing and the model gives no loss. Pass loss_fn(outputs, targets), e.g. "
           "loss_fn=torch.nn.functional.cross_entropy, or use a model that computes its own loss: "
           "model(inputs, targets) returning the loss, (logits, loss) or outputs with .loss (Hugging Face "
           "models do, given dict batches with 'labels').")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class Trainer:
    """Trains ``model`` on ``train_dataset`` (a map-style dataset: ``len`` and ``[i]``) as ``cfg`` says.

    Batches are ``(inputs, targets)``: the loss is ``loss_fn(model(inputs), targets)``, or without a
    ``loss_fn`` the one the model computes itself, ``model(inputs, targets)`` (see ``_loss_in``). Dict
    batches go in as ``model(**batch)``; the loss is ``outputs.loss`` (Hugging Face, with ``labels`` in the
    batch) or ``loss_fn(outputs, batch)``.
    ``metrics_fn(outputs, batch) -> {name: batch mean}`` adds ``val_<name>`` to evaluations (see
    ``accuracy``). ``callbacks`` hook into the loop (see ``bigmodel_helpers.train.callbacks``).
    """

    def __init__(self, model: torch.nn.Module, cfg: TrainConfig, train_dataset, val_dataset=None,
                 loss_fn=None, collate_fn=None, metrics_fn=None, callbacks=None):
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}.")
        for name, ds in (("train_dataset", train_dataset), ("val_dataset", val_dataset)):
            if ds is not None and not hasattr(ds, "__len__"):
                raise TypeError(f"{name} needs len() and [i] (a map-style dataset, e.g. TensorDataset).")
        if val_dataset is not None and len(val_dataset) == 0:
            raise ValueError("val_dataset is empty: pass val_dataset=None to train without evaluation.")
        self.cfg, self.loss_fn, self.collate_fn, self.metrics_fn = cfg, loss_fn, collate_fn, metrics_fn
        self.callbacks = check_callbacks(callbacks)
        self.batches = None   # inside a step: its micro-batches, on the device (for callbacks)
        self.train_dataset, self.val_dataset = train_dataset, val_dataset
        self.procs = join_process_group(cfg.device)
        if self.procs.distributed and torch.cuda.is_available() and cfg.device in ("auto", "cuda"):
            self.device = torch.device("cuda", self.procs.local_rank)
        else:
            self.device = pick_device(cfg.device)[0]
        self.sampler = StepSampler(len(train_dataset), cfg.batch_size, cfg.grad_accum, self.procs.world_size,
                                   self.procs.rank, cfg.seed, cfg.drop_last)
        self.precision = _resolve_precision(cfg.precision, self.device)
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None

        self.model = unwrap(model).to(self.device)   # the plain module: what gets saved and evaluated
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("The model has no trainable parameters (all have requires_grad=False).")
        groups = [{"params": [p for p in self.params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
                  {"params": [p for p in self.params if p.dim() < 2], "weight_decay": 0.0}]   # biases, norms
        # Fused AdamW: one kernel for all parameters instead of a loop of small ops per tensor (CUDA, and the
        # CPU in torch >= 2.4); measured faster on the course GPT (bench/).
        fused = True if self.device.type in ("cuda", "cpu") and _has_fused_adamw(self.device) else None
        groups = [g for g in groups if g["params"]]
        if cfg.optimizer == "sgd":   # plain SGD: the baseline a hand-written loop is compared with
            self.optimizer = torch.optim.SGD(groups, lr=lr_at(cfg, 0), momentum=cfg.momentum)
        else:
            self.optimizer = torch.optim.AdamW(groups, lr=lr_at(cfg, 0), betas=cfg.betas, fused=fused)
        self.ddp = None
        self.train_model = model if model is not self.model and not self.procs.distributed else self.model
        if self.procs.distributed:   # gradients are all-reduced during backward()
            self.ddp = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            self.train_model = self.ddp
        if cfg.compile and not hasattr(self.train_model, "_orig_mod"):   # (a model passed in compiled stays)
            self.train_model = torch.compile(self.train_model)

        self.unit = self._check_batches()
        self.step, self.elapsed_s, self.best_val_loss = 0, 0.0, None
        self.history = {"step": [], "loss": [], "lr": [], "grad_norm": [], "throughput": [], "time_s": [],
                        "throughput_unit": f"{self.unit}/s", "eval_step": [], "val_loss": []}

    # ----------------------------------------------------------------------------------- training
    def fit(self) -> dict:
        """Train until ``max_steps`` (or the time budget); return ``history``, a dict of plain lists."""
        cfg, main = self.cfg, self.procs.main
        if not self._resume() and self.step == 0:
            seed_everything(cfg.seed + self.procs.rank)   # dropout etc.; the data order has its own seed
        if self.step >= cfg.max_steps:
            self._say(f"Already trained to step {self.step} (max_steps={cfg.max_steps}); raise max_steps or "
                      "use a new checkpoint_dir to train more.")
            return self.history
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc="train", disable=not (cfg.progress and main),
                   dynamic_ncols=True)
        live = LivePlot() if cfg.plot and main else None
        self._fit_start = time.perf_counter()
        self.model.train()
        stream = batch_stream(self.train_dataset, self.sampler, self.step, cfg.max_steps, self.collate_fn,
                              cfg.num_workers, pin_memory=self.device.type == "cuda")
        trigger(self.callbacks, "on_fit_start", self)
        try:
            stop_reason = self._loop(stream, bar, live)
        except KeyboardInterrupt:   # the notebook's stop button: keep what was trained, say how to go on
            self.optimizer.zero_grad(set_to_none=True)   # drop a half-accumulated step
            self._say(f"Interrupted after step {self.step}; call fit() again to continue from there.")
            raise
        finally:
            bar.close()
            self.elapsed_s = self._elapsed()
            self.batches = None
            trigger(self.callbacks, "on_fit_end", self)
        self._say(self._summary(stop_reason))
        return self.history

    def _loop(self, stream, bar, live) -> str | None:
        """The steps of one fit() call; returns why it stopped early (None when it reached max_steps)."""
        cfg, window, stop_reason, last_draw = self.cfg, _Window(self.step), None, 0.0
        for step, micro_batches in stream:
            lr = lr_at(cfg, step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            window.add(*self._train_step(micro_batches))
            lr = self.optimizer.param_groups[0]["lr"]   # what the step used (a callback may have set it)
            self.step = step + 1
            trigger(self.callbacks, "on_step_end", self)
            bar.update(1)

            over_budget = (cfg.time_budget_s is not None
                           and time.perf_counter() - self._fit_start > cfg.time_budget_s)
            done = self.step == cfg.max_steps
            evaluate = self.val_dataset is not None and (done or _every(self.step, cfg.eval_every))
            save = cfg.checkpoint_dir is not None and (done or _every(self.step, cfg.checkpoint_every))
            # Processes must agree on when to synchronise, so under torchrun the budget waits for a log step.
            log = (done or evaluate or save or _every(self.step, cfg.log_every)
                   or (over_budget and not self.procs.distributed))
            if not log:
                continue
            if self._log(window, lr, over_budget, bar) and not done:
                stop_reason = f"time budget of {cfg.time_budget_s:g} s reached"
                evaluate, save = self.val_dataset is not None, cfg.checkpoint_dir is not None
            is_best = False
            if evaluate:
                metrics = self.evaluate()
                trigger(self.callbacks, "on_evaluate", self, metrics)
                self.history["eval_step"].append(self.step)
                for name, value in metrics.items():
                    self.history.setdefault(name, []).append(value)
                is_best = self.best_val_loss is None or metrics["val_loss"] < self.best_val_loss
                self.best_val_loss = metrics["val_loss"] if is_best else self.best_val_loss
            if save or (is_best and cfg.checkpoint_dir is not None):
                self._save(is_best)
            if live is not None and (evaluate or done or stop_reason or time.perf_counter() - last_draw > 2):
                live.update(self.history)
                last_draw = time.perf_counter()
            window.restart(self.step)   # throughput excludes evaluation and checkpoint time
            if stop_reason:
                break
        return stop_reason

    def _elapsed(self) -> float:
        """Training seconds over all fit() calls, resumed runs included."""
        return self.elapsed_s + time.perf_counter() - self._fit_start

    def _train_step(self, micro_batches: list) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Forward/backward every micro-batch, then one optimizer step. Returns (loss, grad norm, items),
        the first two as device tensors (reading them would make the CPU wait for the GPU)."""
        loss_sum, items, accum = None, 0, len(micro_batches)
        if self.device.type != "cpu":
            micro_batches = [to_device(batch, self.device) for batch in micro_batches]
        self.batches = micro_batches
        for i, batch in enumerate(micro_batches):
            items += count_items(batch)[0]
            # Under DDP only the last micro-batch all-reduces gradients; the others accumulate locally.
            last = i == accum - 1
            with nullcontext() if self.ddp is None or last else self.ddp.no_sync():
                with self._autocast():
                    loss = self._loss(self.train_model, batch)[0]
                    loss = loss / accum if accum > 1 else loss   # the mean over the whole step
                (self.scaler.scale(loss) if self.scaler else loss).backward()
            loss_sum = loss.detach() if loss_sum is None else loss_sum + loss.detach()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)   # clip the true gradients, not the scaled ones
        trigger(self.callbacks, "on_after_backward", self)
        if self.cfg.clip_norm is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.clip_norm)
        else:
            grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        if self.scaler:
            self.scaler.step(self.optimizer)       # skipped when fp16 gradients overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_sum, grad_norm, items

    def _loss(self, model, batch):
        """``(loss, outputs)`` for one batch."""
        if isinstance(batch, Mapping):
            outputs = model(**batch)
            loss = self.loss_fn(outputs, batch) if self.loss_fn else _loss_in(outputs)
        elif isinstance(batch, (tuple, list)) and len(batch) == 2:
            inputs, targets = batch
            if self.loss_fn is not None:
                outputs = model(inputs)
                loss = self.loss_fn(outputs, targets)
            else:   # nanoGPT style: the model computes its own loss from the targets
                outputs = model(inputs, targets)
                loss = _loss_in(outputs)
        else:
            raise ValueError("Batches must be (inputs, targets) pairs or dicts; write a collate_fn that "
                             "returns one of these.")
        if loss is None:
            raise ValueError(NO_LOSS)
        return loss, outputs

    def _autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _log(self, window: _Window, lr: float, over_budget: bool, bar) -> bool:
        """Read the window's numbers (all processes agree on them), stop on a non-finite loss, append to
        history. Returns whether to stop for the time budget."""
        losses = torch.stack(window.losses).float()
        totals = torch.stack([losses.sum(), torch.stack(window.norms).float().sum(),
                              torch.tensor(float(window.items), device=losses.device),
                              torch.tensor(float(over_budget), device=losses.device)])
        if self.procs.distributed:
            dist.all_reduce(totals)
        loss_sum, norm_sum, items, budget_votes = totals.tolist()
        steps, world = len(window.losses), self.procs.world_size
        if not math.isfinite(loss_sum):
            bad = (~torch.isfinite(losses)).nonzero()
            where = (f"at step {window.first_step + int(bad[0]) + 1}" if len(bad)
                     else f"between steps {window.first_step + 1} and {self.step}")
            raise TrainingDiverged(
                f"The loss became {loss_sum} {where} (lr {lr:.3g}); nothing was saved after it. Try a lower "
                "learning rate (lr) or more warmup_steps, keep gradient clipping on (clip_norm=1.0), or "
                "precision='fp32' / 'bf16' instead of 'fp16'.")
        seconds = max(time.perf_counter() - window.t0, 1e-9)
        row = {"step": self.step, "loss": loss_sum / (steps * world), "lr": lr,
               "grad_norm": norm_sum / (steps * world), "throughput": items / seconds,
               "time_s": self._elapsed()}
        for key, value in row.items():
            self.history[key].append(value)
        val = f", val_loss={self.history['val_loss'][-1]:.4f}" if self.history["val_loss"] else ""
        bar.set_postfix_str(f"loss={row['loss']:.4f}{val}, lr={lr:.2e}, {items / seconds:,.0f} {self.unit}/s",
                            refresh=False)
        return budget_votes > 0

    # --------------------------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, dataset=None, max_batches: int | None = None) -> dict:
        """Mean loss (and ``metrics_fn`` values) over ``dataset`` (default: the validation set), as
        ``{"val_loss": ..., "val_<metric>": ...}``. Under torchrun each process takes a share and the
        results are combined. Averages weight each batch by its number of samples."""
        dataset = self.val_dataset if dataset is None else dataset
        if dataset is None or len(dataset) < self.procs.world_size:
            raise ValueError("evaluate() needs a non-empty dataset (at least one sample per process): pass "
                             "one, or give the Trainer val_dataset=...")
        size = self.cfg.eval_batch_size or self.cfg.batch_size
        max_batches = max_batches or self.cfg.eval_max_batches
        shares = torch.arange(self.procs.rank, len(dataset), self.procs.world_size).split(size)[:max_batches]
        load, was_training = batch_loader(dataset, self.collate_fn), self.model.training
        self.model.eval()
        sums, samples = {}, 0.0
        for indices in shares:
            batch = to_device(load(indices), self.device)
            with self._autocast():
                loss, outputs = self._loss(self.model, batch)
                values = {"loss": loss, **(self.metrics_fn(outputs, batch) if self.metrics_fn else {})}
            for name, value in values.items():   # batch means, weighted by the batch size
                value = torch.as_tensor(value, device=self.device).float() * len(indices)
                sums[name] = sums.get(name, 0.0) + value
            samples += len(indices)
        self.model.train(was_training)
        names = sorted(sums)
        totals = torch.stack([sums[name] for name in names] + [torch.tensor(samples, device=self.device)])
        if self.procs.distributed:
            dist.all_reduce(totals)
        *totals, samples = totals.tolist()
        return {f"val_{name}": total / samples for name, total in zip(names, totals)}

    # -------------------------------------------------------------------------------- checkpoints
    def _save(self, is_best: bool) -> None:
        rng = _rng_state(self.device)
        if self.procs.distributed:   # every process has its own dropout RNG
            rngs = [None] * self.procs.world_size
            dist.all_gather_object(rngs, rng)
        else:
            rngs = [rng]
        if self.procs.main:
            state = {"format": 1, "step": self.step, "optimizer": self.optimizer.state_dict(),
                     "scaler": self.scaler.state_dict() if self.scaler else None, "rng": rngs,
                     "sampler": self.sampler.state(), "history": self.history, "elapsed_s": self._elapsed(),
                     "best_val_loss": self.best_val_loss, "config": vars(self.cfg).copy()}
            save_checkpoint(self.cfg.checkpoint_dir, self.step, self.model, state,
                            best_val_loss=self.best_val_loss if is_best else None,
                            keep=self.cfg.keep_checkpoints)
        if self.procs.distributed:
            dist.barrier()   # nobody races ahead (or resumes) before the checkpoint is complete

    def _resume(self) -> bool:
        """Load the newest checkpoint when it is ahead of this Trainer. Returns whether it did."""
        path = latest_checkpoint(self.cfg.checkpoint_dir)
        if path is None or int(path.name.split("_")[1]) <= self.step:
            return False
        state = load_checkpoint(path, self.model, self.device)
        if state["sampler"] != self.sampler.state():
            raise ValueError(
                f"The checkpoint {path} was trained with {state['sampler']} (samples, global batch, seed) "
                f"but this run has {self.sampler.state()}; resuming exactly needs the same. Use a new "
                "checkpoint_dir, or restore the dataset / batch_size / grad_accum / processes / seed.")
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        rngs = state["rng"]
        _set_rng_state(rngs[self.procs.rank] if len(rngs) == self.procs.world_size else rngs[0], self.device)
        self.step, self.history = state["step"], state["history"]
        self.elapsed_s, self.best_val_loss = state["elapsed_s"], state["best_val_loss"]
        self._say(f"Resuming from {path} at step {self.step}.")
        return True

    def load_best(self) -> str:
        """Load the weights with the lowest validation loss into the model; returns their folder."""
        folder = best_checkpoint(self.cfg.checkpoint_dir) if self.cfg.checkpoint_dir else None
        if folder is None:
            raise FileNotFoundError("No best checkpoint: it needs checkpoint_dir and a val_dataset.")
        load_weights(self.model, folder / "model.safetensors", self.device)
        return str(folder)

    # ------------------------------------------------------------------------------------- helpers
    def _check_batches(self) -> str:
        """Fail before any training when a batch cannot give a loss: one forward pass on one sample (in eval
        mode, without gradients: no weights, statistics or random state change). Returns the throughput
        unit."""
        probe = batch_loader(self.train_dataset, self.collate_fn)(torch.tensor([0]))
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), self._autocast():
                self._loss(self.model, to_device(probe, self.device))
        except TypeError as error:   # e.g. model(inputs, targets) on a model that takes only inputs
            if self.loss_fn is not None:
                raise
            raise ValueError(NO_LOSS) from error
        finally:
            self.model.train(was_training)
        return count_items(probe)[1]

    def _say(self, message: str) -> None:
        if self.procs.main:
            print(message, flush=True)

    def _summary(self, stop_reason: str | None) -> str:
        h = self.history
        parts = [f"step {self.step}/{self.cfg.max_steps}"]
        if h["loss"]:
            parts.append(f"loss {h['loss'][-1]:.4f}")
        if h["val_loss"]:
            parts.append(f"val_loss {h['val_loss'][-1]:.4f}")
        parts.append(f"{self.elapsed_s:.1f} s")
        return ("Stopped: " + stop_reason + "; " if stop_reason else "Done: ") + ", ".join(parts)


class _Window:
    """Per-step numbers since the last log, kept on the device until then."""

    def __init__(self, step: int):
        self.restart(step)

    def restart(self, step: int) -> None:
        self.first_step, self.losses, self.norms, self.items, self.t0 = step, [], [], 0, time.perf_counter()

    def add(self, loss: torch.Tensor, grad_norm: torch.Tensor, items: int) -> None:
        self.losses.append(loss)
        self.norms.append(grad_norm)
        self.items += items


def accuracy(outputs, batch) -> dict:
    """A ``metrics_fn`` for classifiers: share of argmax predictions equal to the targets (label -100 is
    ignored). Works with plain logits and with Hugging Face outputs (``.logits``, batch ``"labels"``)."""
    logits = getattr(outputs, "logits", None)
    logits = logits if logits is not None else outputs[0] if isinstance(outputs, (tuple, list)) else outputs
    targets = batch["labels"] if isinstance(batch, Mapping) else batch[1]
    valid = targets != -100
    return {"accuracy": ((logits.argmax(-1) == targets) & valid).sum() / valid.sum().clamp(min=1)}


def _loss_in(outputs):
    """The loss a model returned itself: ``outputs.loss`` / ``outputs["loss"]`` (Hugging Face), the second
    item of ``(logits, loss)`` (nanoGPT, the course GPT), or a bare scalar; None when there is none."""
    if isinstance(outputs, Mapping):
        return outputs.get("loss")
    if hasattr(outputs, "loss"):
        return outputs.loss
    if isinstance(outputs, (tuple, list)) and len(outputs) == 2 and isinstance(outputs[1], torch.Tensor):
        return outputs[1] if outputs[1].dim() == 0 else None
    return outputs if isinstance(outputs, torch.Tensor) and outputs.dim() == 0 else None


def _has_fused_adamw(device: torch.device) -> bool:
    """Whether this torch's AdamW has a fused implementation for ``device`` (CPU: torch >= 2.4)."""
    try:
        torch.optim.AdamW([torch.zeros(1, device=device, requires_grad=True)], fused=True)
        return True
    except (RuntimeError, TypeError, ValueError):
        return False


def _every(step: int, interval: int | None) -> bool:
    return interval is not None and step % interval == 0


def _resolve_precision(precision: str, device: torch.device) -> str:
    """auto: bf16 autocast on GPUs that have it, fp16 + grad scaler on older GPUs, fp32 elsewhere."""
    bf16_gpu = device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
    if precision == "auto":
        return ("bf16" if bf16_gpu else "fp16") if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"precision='fp16' needs a CUDA GPU (its grad scaler is CUDA-only); on "
                         f"{device.type} use 'bf16' or 'fp32'.")
    if precision == "bf16" and device.type == "cuda" and not bf16_gpu:
        raise ValueError("This GPU has no native bf16: use precision='fp16' (or 'auto', which picks it).")
    return precision


def _rng_state(device: torch.device) -> dict:
    """Every random generator a training step may draw from, as plain tensors and numbers."""
    _, keys, position, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached]}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), position, has_gauss, cached))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
