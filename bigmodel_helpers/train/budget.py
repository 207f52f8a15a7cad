"""Time budgets: how many optimizer steps of a model fit into a number of seconds on this machine."""

from __future__ import annotations

from itertools import pairwise

from .config import TrainConfig


def plan_steps(make_model, cfg_kwargs: dict, dataset, budget_s: float, max_steps: int, probe_steps: int = 20,
               reserve: float = 0.15, **trainer_kwargs) -> int:
    """Optimizer steps that fit in ``budget_s`` seconds: train a fresh ``make_model()`` for ``probe_steps``
    steps, take the median step time (the first, warm-up step is left out), and keep ``reserve`` of the
    budget for evaluations. A cosine schedule over that many steps then ends just before the budget does.

    ``cfg_kwargs`` are the ``TrainConfig`` arguments of the real run; ``trainer_kwargs`` go to ``Trainer``
    (``loss_fn``, ``collate_fn``...). Returns at least ``probe_steps`` and at most ``max_steps``."""
    from .trainer import Trainer
    if not (isinstance(probe_steps, int) and probe_steps >= 3):
        raise ValueError(f"probe_steps={probe_steps!r}: time at least 3 steps (the first is a warm-up).")
    if not (budget_s > 0 and 0 <= reserve < 1):
        raise ValueError(f"budget_s={budget_s!r} must be > 0 and reserve={reserve!r} in [0, 1).")
    probe_cfg = TrainConfig(**{**cfg_kwargs, "max_steps": probe_steps, "warmup_steps": 0, "progress": False,
                               "log_every": 1, "checkpoint_dir": None, "eval_every": None,
                               "time_budget_s": None})
    probe = Trainer(make_model(), probe_cfg, dataset, **trainer_kwargs)
    probe.fit()
    times = probe.history["time_s"]
    step_times = sorted(b - a for a, b in pairwise(times))
    seconds_per_step = step_times[len(step_times) // 2]
    return max(probe_steps, min(max_steps, int((1 - reserve) * budget_s / seconds_per_step)))
