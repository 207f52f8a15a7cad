"""The training loop: exact resume after kill -9, torchrun, gradient accumulation, clear errors."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_model
from torch.utils.data import Dataset, TensorDataset, default_collate

from bigmodel_helpers.train import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
    accuracy,
    latest_checkpoint,
    launch_torchrun,
    load_weights,
    lr_at,
    plot_history,
)
from bigmodel_helpers.train.checkpoint import save_checkpoint
from bigmodel_helpers.train.data import StepSampler, count_items

SCRIPTS = Path(__file__).parent / "train_scripts"
TINY_LM = SCRIPTS / "tiny_lm.py"
sys.path.insert(0, str(SCRIPTS))
import tiny_lm

CE = torch.nn.functional.cross_entropy


def quiet(**overrides) -> TrainConfig:
    defaults = {
        "max_steps": 5,
        "batch_size": 8,
        "lr": 1e-2,
        "progress": False,
        "device": "cpu",
        "log_every": 1,
    }
    return TrainConfig(**{**defaults, **overrides})


def classification_data(n=64, features=6, seed=0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    return TensorDataset(x, (x[:, 0] + x[:, 1] > 0).long())


def mlp(seed=0, features=6, hidden=8) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 2))


def run_script(*args, env=None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(TINY_LM), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def finish(process: subprocess.Popen, timeout=120) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def same_weights(path_a, path_b) -> bool:
    a, b = load_file(str(path_a)), load_file(str(path_b))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def checkpoint_step(checkpoint_dir) -> int:
    latest = latest_checkpoint(checkpoint_dir)
    return int(latest.name.split("_")[1]) if latest else 0


# ------------------------------------------------------------------------ kill -9 and exact resume
@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """Final weights of a run nobody interrupted (dropout on, so the RNG state must be resumed too), trained
    in this process with the script's settings (one thread, like the script) to save a process start."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = tiny_lm.make_trainer(str(folder / "ckpt"))
        trainer.fit()
    finally:
        torch.set_num_threads(threads)
    save_model(trainer.model, str(folder / "final.safetensors"))
    return folder / "final.safetensors"


def test_kill_9_mid_run_and_during_checkpoint_write_then_resume_matches_uninterrupted_run(
    tmp_path, uninterrupted
):
    ckpt, out = tmp_path / "ckpt", tmp_path / "final.safetensors"
    args = ("--out", out, "--checkpoint-dir", ckpt)

    # 1. A slow run, killed with SIGKILL once its second checkpoint (step 10) is on disk.
    process = run_script(*args, env={"SLOW_STEP_S": "0.03"})
    deadline = time.monotonic() + 60
    while checkpoint_step(ckpt) < 10 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    output, _ = process.communicate()
    assert process.returncode == -signal.SIGKILL, f"the run ended before it was killed:\n{output}"
    killed_at = checkpoint_step(ckpt)
    assert 10 <= killed_at < 30 and not out.exists()

    # 2. Resumed, and this time killed by SIGKILL in the middle of writing its first checkpoint:
    #    the temporary folder is complete on disk, the rename has not happened.
    process = run_script(*args, env={"KILL_AT_CHECKPOINT": "1"})
    output, _ = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, output
    assert f"Resuming from {latest_checkpoint(ckpt)} at step {killed_at}" in output
    assert "killing myself while writing" in output
    assert list(ckpt.glob(".tmp-*")), "the kill should have left the unfinished temporary folder behind"
    assert checkpoint_step(ckpt) == killed_at, "an unfinished write must never become the latest checkpoint"

    # 3. Resumed again, it runs to the end: the weights equal the uninterrupted run's, bit for bit.
    output = finish(run_script(*args))
    assert f"at step {killed_at}." in output
    assert same_weights(out, uninterrupted)
    assert not list(ckpt.glob(".tmp-*")), "the next save cleans up after the killed writer"


# ---------------------------------------------------------------------------------- torchrun / DDP
def test_torchrun_two_processes_match_one_process_with_the_same_global_batch(tmp_path, capsys):
    """2 processes x 2 micro-batches of 2 (gradient accumulation under DDP's no_sync) = one batch of 8."""
    out = tmp_path / "final.safetensors"
    args = ["--out", out, "--checkpoint-dir", tmp_path / "ckpt", "--max-steps", 12, "--dropout", 0]
    launch_torchrun(TINY_LM, nproc=2, env={"OMP_NUM_THREADS": "1"},
                    args=[*args, "--batch-size", 2, "--grad-accum", 2])
    printed = capsys.readouterr().out
    assert printed.count("Done: step 12/12") == 1, "only rank 0 reports"
    rank0, rank1 = load_file(f"{out}.rank0"), load_file(f"{out}.rank1")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), "DDP keeps the processes' weights identical"
    assert checkpoint_step(tmp_path / "ckpt") == 12, "rank 0 wrote the checkpoints"

    single = tiny_lm.make_trainer(None, max_steps=12, batch_size=8, dropout=0.0)
    single.fit()
    expected = single.model.state_dict()
    for name, value in rank0.items():
        torch.testing.assert_close(value, expected[name], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(rank0["embed.weight"], tiny_lm.make_trainer().model.embed.weight), "it trained"


def test_launch_torchrun_names_a_missing_script(tmp_path):
    with pytest.raises(FileNotFoundError, match="No training script"):
        launch_torchrun(tmp_path / "missing.py")


# ------------------------------------------------------------------------------- the loop itself
def test_grad_accumulation_of_k_small_batches_matches_one_big_batch():
    big = Trainer(mlp(), quiet(batch_size=8), classification_data(), loss_fn=CE)
    small = Trainer(mlp(), quiet(batch_size=2, grad_accum=4), classification_data(), loss_fn=CE)
    big.fit(), small.fit()
    for a, b in zip(big.model.parameters(), small.model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert not torch.equal(big.model[0].weight, mlp()[0].weight)


class ListDataset(Dataset):
    """A plain map-style dataset (not a TensorDataset), so batches go through collate."""

    def __init__(self, tensors: TensorDataset):
        self.samples = list(tensors)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def test_worker_processes_load_the_same_batches_in_the_same_order():
    data = ListDataset(classification_data())
    in_process = Trainer(mlp(), quiet(max_steps=12), data, loss_fn=CE)
    workers = Trainer(mlp(), quiet(max_steps=12, num_workers=2), data, loss_fn=CE)
    in_process.fit(), workers.fit()
    for a, b in zip(in_process.model.parameters(), workers.model.parameters()):
        assert torch.equal(a, b)


class NanAtStep:
    """A loss function that turns NaN at a given optimizer step (one training call per step)."""

    def __init__(self, step):
        self.step, self.calls = step, 0

    def __call__(self, outputs, targets):
        self.calls += torch.is_grad_enabled()  # not the Trainer's no-grad check of the first sample
        loss = CE(outputs, targets)
        return loss * float("nan") if self.calls >= self.step else loss


def test_nan_loss_stops_with_the_step_and_what_to_try_and_saves_nothing_broken(tmp_path):
    cfg = quiet(max_steps=20, checkpoint_dir=tmp_path, checkpoint_every=1, log_every=5)
    trainer = Trainer(mlp(), cfg, classification_data(), loss_fn=NanAtStep(4))
    with pytest.raises(TrainingDiverged, match=r"at step 4 .*lower learning rate.*clip_norm.*precision"):
        trainer.fit()
    assert checkpoint_step(tmp_path) == 3
    weights = load_file(str(latest_checkpoint(tmp_path) / "model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_time_budget_stops_cleanly_with_a_checkpoint(tmp_path):
    class Slow(Dataset):
        def __init__(self):
            self.data = classification_data()

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            time.sleep(0.002)
            return self.data[i]

    cfg = quiet(max_steps=10_000, time_budget_s=0.3, checkpoint_dir=tmp_path, log_every=50)
    trainer = Trainer(mlp(), cfg, Slow(), classification_data(16, seed=1), loss_fn=CE)
    history = trainer.fit()
    assert 1 <= trainer.step < 10_000
    assert checkpoint_step(tmp_path) == trainer.step == history["step"][-1]
    assert history["eval_step"][-1] == trainer.step, "a final evaluation at the stop"


def test_history_is_plain_lists_with_throughput_in_tokens_for_token_batches():
    trainer = tiny_lm.make_trainer(None, max_steps=6, checkpoint_every=None)
    trainer.cfg.log_every = 2
    history = trainer.fit()
    assert history["step"] == [2, 4, 6] and history["eval_step"] == [6]
    assert history["throughput_unit"] == "tokens/s"
    for key in ("loss", "lr", "grad_norm", "throughput", "time_s", "val_loss"):
        assert all(isinstance(v, float) and math.isfinite(v) for v in history[key]), key
    assert history["lr"][0] == pytest.approx(lr_at(trainer.cfg, 1))


def test_hugging_face_model_with_dict_batches_and_tied_weights_saves_and_loads(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=32, n_positions=8, n_embd=16, n_layer=1, n_head=2)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    ids = torch.randint(0, 32, (24, 8), generator=torch.Generator().manual_seed(0))
    dataset = [{"input_ids": row, "labels": row} for row in ids]
    trainer = Trainer(model, quiet(max_steps=4, batch_size=4, checkpoint_dir=tmp_path), dataset, dataset[:8])
    history = trainer.fit()
    assert history["throughput_unit"] == "tokens/s" and history["val_loss"][-1] < history["loss"][0] + 1

    fresh = transformers.GPT2LMHeadModel(config)
    load_weights(fresh, latest_checkpoint(tmp_path) / "model.safetensors")
    assert fresh.lm_head.weight.data_ptr() == fresh.transformer.wte.weight.data_ptr(), "still tied"
    for name, value in model.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[name]), name


def test_a_save_removes_what_killed_writers_left_behind(tmp_path):
    (tmp_path / ".tmp-step_00000002-999").mkdir(parents=True)
    (tmp_path / ".tmp-best.json-999").write_text("{")
    save_checkpoint(tmp_path, 3, mlp(), {"step": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_00000003"]


def test_torch_compile_prefix_never_reaches_the_saved_keys(tmp_path):
    compiled = torch.compile(mlp())  # lazy: nothing is compiled until it is called
    save_checkpoint(tmp_path, 1, compiled, {"step": 1})
    with safe_open(str(tmp_path / "step_00000001" / "model.safetensors"), framework="pt") as f:
        assert sorted(f.keys()) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert Trainer(compiled, quiet(), classification_data(), loss_fn=CE).model is compiled._orig_mod


def test_evaluate_gives_loss_and_accuracy_weighted_by_samples():
    data, model = classification_data(50), mlp()
    trainer = Trainer(
        model, quiet(eval_batch_size=16), classification_data(), data, loss_fn=CE, metrics_fn=accuracy
    )
    result = trainer.evaluate()
    x, y = data.tensors
    with torch.no_grad():
        logits = model(x)
    assert result["val_loss"] == pytest.approx(CE(logits, y).item(), rel=1e-5)
    assert result["val_accuracy"] == pytest.approx((logits.argmax(-1) == y).float().mean().item())


def test_best_checkpoint_is_kept_and_loadable(tmp_path):
    cfg = quiet(max_steps=12, eval_every=3, checkpoint_dir=tmp_path, keep_checkpoints=1)
    trainer = Trainer(mlp(), cfg, classification_data(), classification_data(16, seed=1), loss_fn=CE)
    history = trainer.fit()
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["val_loss"] == min(history["val_loss"])
    assert best["step"] == history["eval_step"][history["val_loss"].index(best["val_loss"])]
    assert trainer.load_best().endswith(f"step_{best['step']:08d}")
    assert 1 <= len(list(tmp_path.glob("step_*"))) <= 2, "older checkpoints are pruned"


# -------------------------------------------------------------------------- sampler and schedule
def test_sampler_covers_each_epoch_once_and_splits_steps_across_processes():
    single = StepSampler(10, micro_batch=4, grad_accum=1, world_size=1, rank=0, seed=3, drop_last=False)
    assert single.steps_per_epoch == 3
    epoch0 = torch.cat([single.micro_batches(s)[0] for s in range(3)])
    assert set(epoch0[:10].tolist()) == set(range(10)), "the last step is topped up from the epoch's start"
    epoch1 = torch.cat([single.micro_batches(s)[0] for s in range(3, 6)])
    assert not torch.equal(epoch0, epoch1), "a fresh order every epoch"
    ranks = [StepSampler(10, 2, 1, 2, r, seed=3, drop_last=False).micro_batches(4)[0] for r in range(2)]
    assert torch.cat(ranks).tolist() == single.micro_batches(4)[0].tolist()


def test_learning_rate_schedules():
    cosine = TrainConfig(max_steps=110, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert [lr_at(cosine, s) for s in (0, 9)] == [pytest.approx(0.1), pytest.approx(1.0)]
    assert lr_at(cosine, 60) == pytest.approx(0.55) and lr_at(cosine, 110) == pytest.approx(0.1)
    linear = TrainConfig(max_steps=110, lr=1.0, warmup_steps=10, min_lr_ratio=0.0, schedule="linear")
    assert lr_at(linear, 35) == pytest.approx(0.75)
    assert lr_at(TrainConfig(lr=0.5, schedule="constant"), 999) == 0.5


def test_throughput_counts_tokens_for_token_ids_and_samples_otherwise():
    assert count_items({"input_ids": torch.zeros(4, 7, dtype=torch.long)}) == (28, "tokens")
    assert count_items((torch.zeros(4, 7, dtype=torch.long), torch.zeros(4, 7, dtype=torch.long))) == (
        28,
        "tokens",
    )
    assert count_items((torch.zeros(4, 784), torch.zeros(4, dtype=torch.long))) == (4, "samples")


def test_plot_history_draws_loss_and_grad_norm():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    history = {
        "step": [1, 2],
        "loss": [2.0, 1.0],
        "lr": [0.1, 0.1],
        "grad_norm": [3.0, 2.0],
        "eval_step": [2],
        "val_loss": [1.5],
    }
    fig = plot_history(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "gradient norm (before clipping)"]
    assert len(fig.axes[0].lines) == 2


def test_live_plot_shows_one_output_and_then_replaces_it(monkeypatch):
    pytest.importorskip("IPython")
    import matplotlib

    matplotlib.use("Agg")
    from bigmodel_helpers.train import plot

    calls = []

    class RecordingHandle:
        def display(self, image):
            calls.append(("display", image.data[:4]))

        def update(self, image):
            calls.append(("update", image.data[:4]))

    assert plot.LivePlot().handle is None, "outside a notebook kernel it does nothing"
    monkeypatch.setattr(plot, "in_notebook_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.DisplayHandle", RecordingHandle)
    live = plot.LivePlot()
    history = {
        "step": [1, 2],
        "loss": [2.0, 1.0],
        "lr": [0.1, 0.1],
        "grad_norm": [3.0, 2.0],
        "eval_step": [],
        "val_loss": [],
    }
    live.update(history)
    live.update(history)
    assert calls == [("display", b"\x89PNG"), ("update", b"\x89PNG")]


# ---------------------------------------------------------------------------- clear errors
@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: Trainer(
                mlp(), quiet(), TensorDataset(torch.zeros(0, 6), torch.zeros(0).long()), loss_fn=CE
            ),
            "train_dataset is empty",
        ),
        (
            lambda: Trainer(mlp(), quiet(batch_size=100), classification_data(64), loss_fn=CE),
            r"only 64.*lower batch_size.*drop_last=False",
        ),
        (lambda: Trainer(mlp(), quiet(), classification_data()), r"loss_fn is missing.*cross_entropy"),
        (
            lambda: Trainer(
                mlp(), quiet(), classification_data(), collate_fn=lambda s: default_collate(s)[0]
            ),
            r"Batches must be \(inputs, targets\) pairs or dicts",
        ),
        (lambda: quiet(precision="fp8"), r"Unknown precision 'fp8'. Valid: 'auto', 'fp32', 'bf16', 'fp16'"),
        (lambda: quiet(schedule="exponential"), r"Unknown schedule 'exponential'. Valid: 'cosine'"),
        (lambda: quiet(device="tpu"), r"Unknown device 'tpu'. Valid: 'auto', 'cpu'"),
        (
            lambda: Trainer(mlp(), quiet(precision="fp16"), classification_data(), loss_fn=CE),
            r"fp16.*needs a CUDA GPU.*'bf16' or 'fp32'",
        ),
        (lambda: quiet(batch_size=0), r"batch_size=0 must be a whole number >= 1"),
    ],
)
def test_bad_input_gets_a_clear_error(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_drop_last_false_accepts_a_batch_larger_than_the_dataset():
    trainer = Trainer(
        mlp(), quiet(batch_size=100, drop_last=False, max_steps=2), classification_data(64), loss_fn=CE
    )
    assert trainer.fit()["step"] == [1, 2]


def test_resuming_with_a_different_model_shape_names_the_fix(tmp_path):
    Trainer(
        mlp(hidden=8), quiet(max_steps=2, checkpoint_dir=tmp_path), classification_data(), loss_fn=CE
    ).fit()
    other = Trainer(
        mlp(hidden=12), quiet(max_steps=4, checkpoint_dir=tmp_path), classification_data(), loss_fn=CE
    )
    with pytest.raises(
        ValueError,
        match=r"different model .*'0.weight' is \[8, 6\] there but \[12, 6\] here.*"
        r"new folder",
    ):
        other.fit()


def test_dict_batches_without_labels_ask_for_labels_or_loss_fn():
    class NoLoss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)

        def forward(self, x):
            return {"logits": self.linear(x)}

    dataset = [{"x": torch.randn(3)} for _ in range(8)]
    with pytest.raises(ValueError, match=r"gives no loss.*loss_fn.*'labels'"):
        Trainer(NoLoss(), quiet(batch_size=4), dataset)


def test_a_model_that_computes_its_own_loss_needs_no_loss_fn():
    from bigmodel_helpers.models.gpt import GPT, GPTConfig  # forward(idx, targets) -> (logits, loss)

    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=tiny_lm.VOCAB, block_size=tiny_lm.CONTEXT, n_layer=1, n_head=2, n_embd=16)
    )
    data = tiny_lm.make_data(64, seed=1)
    history = Trainer(model, quiet(max_steps=15, lr=3e-2), data, metrics_fn=accuracy).fit()
    assert history["loss"][-1] < history["loss"][0] - 0.3


# ---------------------------------------------------------------------------------------- GPU
gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@gpu
@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_gpu_mixed_precision_trains_and_resumes(tmp_path, precision):
    cfg = quiet(
        device="cuda", precision=precision, max_steps=30, checkpoint_dir=tmp_path, checkpoint_every=10
    )
    trainer = tiny_lm.make_trainer()
    trainer = Trainer(trainer.model, cfg, trainer.train_dataset, trainer.val_dataset, loss_fn=tiny_lm.lm_loss)
    expected = "bf16" if precision == "auto" and torch.cuda.is_bf16_supported(False) else "fp16"
    assert trainer.precision == expected and (trainer.scaler is not None) == (expected == "fp16")
    history = trainer.fit()
    assert history["loss"][-1] < history["loss"][0]
    resumed = tiny_lm.make_trainer()
    resumed = Trainer(
        resumed.model,
        TrainConfig(**{**vars(cfg), "max_steps": 35}),
        resumed.train_dataset,
        loss_fn=tiny_lm.lm_loss,
    )
    resumed.fit()
    assert resumed.step == 35 and resumed.history["step"][: len(history["step"])] == history["step"]


@gpu
def test_gpu_compile_trains_and_saves_plain_keys(tmp_path):
    base = tiny_lm.make_trainer(dropout=0.0)
    cfg = quiet(device="cuda", max_steps=20, compile=True, checkpoint_dir=tmp_path)
    trainer = Trainer(base.model, cfg, base.train_dataset, loss_fn=tiny_lm.lm_loss)
    history = trainer.fit()
    assert history["loss"][-1] < history["loss"][0]
    with safe_open(str(latest_checkpoint(tmp_path) / "model.safetensors"), framework="pt") as f:
        assert not [k for k in f.keys() if "_orig_mod" in k]  # noqa: SIM118


@pytest.mark.parametrize("warmup, min_ratio", [(30, 0.01), (2, 0.1), (99, 0.0016)])
def test_one_cycle_schedule_equals_torch_one_cycle_lr(warmup, min_ratio):
    cfg = TrainConfig(max_steps=100, lr=0.3, schedule="one_cycle", warmup_steps=warmup, min_lr_ratio=min_ratio)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.3, total_steps=100, pct_start=warmup / 100,
                                                div_factor=25, final_div_factor=1 / (25 * min_ratio))
    torch_lrs = []
    for _ in range(100):
        torch_lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    ours = [lr_at(cfg, s) for s in range(100)]
    assert max(abs(a - b) for a, b in zip(ours, torch_lrs)) < 1e-12


def test_step_schedule_equals_torch_step_lr_after_the_warm_up():
    cfg = TrainConfig(max_steps=60, lr=0.5, schedule="step", step_every=20, step_gamma=0.5, warmup_steps=5)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.5)
    for step in range(5, 60):
        assert lr_at(cfg, step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12), step
        opt.step()
        sched.step()
    assert lr_at(cfg, 0) == pytest.approx(0.1)      # warm-up first: 0.5 * 1/5


def test_trainer_with_plain_sgd_equals_a_hand_written_sgd_loop():
    data = classification_data(n=32)
    model = mlp(seed=3)
    Trainer(model, quiet(max_steps=4, batch_size=32, lr=0.1, optimizer="sgd", schedule="constant",
                         clip_norm=None, weight_decay=0.0), data, loss_fn=CE).fit()
    by_hand = mlp(seed=3)
    opt = torch.optim.SGD(by_hand.parameters(), lr=0.1)
    x, y = data.tensors
    for _ in range(4):   # one batch of 32 = the whole set, so the data order cannot differ
        opt.zero_grad()
        CE(by_hand(x), y).backward()
        opt.step()
    for a, b in zip(model.parameters(), by_hand.parameters()):
        assert torch.allclose(a, b, atol=1e-6), (a - b).abs().max()


def test_history_logs_the_learning_rate_a_callback_set():
    class Halve:
        def on_after_backward(self, trainer):
            for group in trainer.optimizer.param_groups:
                group["lr"] = 0.5 * lr_at(trainer.cfg, trainer.step)
    cfg = quiet(max_steps=3, schedule="constant", lr=0.2)
    history = Trainer(mlp(), cfg, classification_data(), loss_fn=CE, callbacks=[Halve()]).fit()
    assert history["lr"] == [pytest.approx(0.1)] * 3


def test_config_refuses_momentum_for_adamw_and_one_cycle_without_a_rise():
    with pytest.raises(ValueError, match="momentum is an sgd setting"):
        TrainConfig(momentum=0.9)
    with pytest.raises(ValueError, match="one_cycle"):
        TrainConfig(schedule="one_cycle", warmup_steps=0)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        TrainConfig(optimizer="lion")
