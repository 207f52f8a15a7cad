"""Trainer callbacks: called in order, each with the state it promises; plan_steps fits a time budget."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from bigmodel_helpers.train import HOOKS, TrainConfig, Trainer, plan_steps


def data(n=64, features=6, seed=0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long())


def mlp(seed=0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def cfg(**overrides) -> TrainConfig:
    return TrainConfig(**{"max_steps": 6, "batch_size": 8, "lr": 1e-2, "progress": False, "log_every": 2,
                          "eval_every": 3, **overrides})


class Recorder:
    """Writes down each hook with what the Trainer promised at that moment."""

    def __init__(self):
        self.events = []

    def on_fit_start(self, trainer):
        self.events.append(("on_fit_start", trainer.step))

    def on_after_backward(self, trainer):
        grads = [p.grad for p in trainer.model.parameters()]
        assert all(g is not None for g in grads), "gradients must be there"
        assert len(trainer.batches) == trainer.cfg.grad_accum
        self.events.append(("on_after_backward", trainer.step))

    def on_step_end(self, trainer):
        assert all(p.grad is None for p in trainer.model.parameters()), "the step is over: gradients cleared"
        self.events.append(("on_step_end", trainer.step))

    def on_evaluate(self, trainer, metrics):
        assert "val_loss" in metrics
        metrics["val_custom"] = float(trainer.step)
        self.events.append(("on_evaluate", trainer.step))

    def on_fit_end(self, trainer):
        self.events.append(("on_fit_end", trainer.step))


def test_hooks_are_called_in_order_with_the_state_they_promise():
    recorder = Recorder()
    trainer = Trainer(mlp(), cfg(grad_accum=2), data(), data(16, seed=1),
                      loss_fn=torch.nn.functional.cross_entropy, callbacks=[recorder])
    history = trainer.fit()
    expected = [("on_fit_start", 0)]
    for step in range(6):
        expected += [("on_after_backward", step), ("on_step_end", step + 1)]
        if (step + 1) % 3 == 0:
            expected.append(("on_evaluate", step + 1))
    assert recorder.events == expected + [("on_fit_end", 6)]
    assert history["val_custom"] == [3.0, 6.0], "a metric added in on_evaluate lands in history"
    assert set(HOOKS) == {name for name, _ in expected + [("on_fit_end", 6)]}


def test_a_gradient_changed_in_on_after_backward_is_the_one_the_optimizer_uses():
    class ZeroGradients:
        def on_after_backward(self, trainer):
            for p in trainer.model.parameters():
                p.grad.zero_()

    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    Trainer(model, cfg(weight_decay=0.0, eval_every=None), data(), loss_fn=torch.nn.functional.cross_entropy,
            callbacks=[ZeroGradients()]).fit()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "zero gradients: no change"


def test_on_step_end_can_reapply_a_pruning_mask():
    class KeepPruned:
        def __init__(self, weight):
            self.weight, self.mask = weight, torch.rand_like(weight) > 0.5

        def on_step_end(self, trainer):
            with torch.no_grad():
                self.weight.mul_(self.mask)

    model = mlp()
    keep = KeepPruned(model[0].weight)
    Trainer(model, cfg(eval_every=None), data(), loss_fn=torch.nn.functional.cross_entropy, callbacks=[keep]).fit()
    assert torch.all(model[0].weight[~keep.mask] == 0) and torch.any(model[0].weight[keep.mask] != 0)


def test_an_object_without_hooks_is_refused_with_the_valid_names():
    class Typo:
        def on_step_ended(self, trainer):
            pass

    with pytest.raises(TypeError, match="on_step_end"):
        Trainer(mlp(), cfg(), data(), loss_fn=torch.nn.functional.cross_entropy, callbacks=[Typo()])


def test_plan_steps_scales_with_the_budget_and_respects_its_bounds():
    kwargs = {"batch_size": 8, "lr": 1e-2}
    args = (lambda: mlp(), kwargs, data())
    small = plan_steps(*args, budget_s=0.05, max_steps=10**6, probe_steps=5,
                       loss_fn=torch.nn.functional.cross_entropy)
    large = plan_steps(*args, budget_s=5.0, max_steps=10**6, probe_steps=5,
                       loss_fn=torch.nn.functional.cross_entropy)
    assert 5 <= small < large, (small, large)
    assert plan_steps(*args, budget_s=5.0, max_steps=7, probe_steps=5,
                      loss_fn=torch.nn.functional.cross_entropy) == 7
    with pytest.raises(ValueError, match="at least 3 steps"):
        plan_steps(*args, budget_s=1.0, max_steps=10, probe_steps=1)
