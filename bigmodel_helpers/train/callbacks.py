"""Hooks into the training loop, so that a chapter adds what it needs in a few lines instead of growing the
Trainer (minGPT's ``add_callback`` idea, with named hooks).

A callback is any object with some of these methods; each gets the ``Trainer`` (its ``model``, ``optimizer``,
``step``, ``cfg``, ``history`` and, inside a step, ``batches``: this step's micro-batches, on the device):

====================================  ===========================================================================
``on_fit_start(trainer)``             before the first step of a ``fit()`` call (after a resume)
``on_after_backward(trainer)``        every micro-batch's gradients are summed in ``p.grad``; before clipping
                                      and the optimizer step (per-sample clipping and noise for DP-SGD go here)
``on_step_end(trainer)``              after the optimizer step; ``trainer.step`` already counts it (EMA
                                      weights, re-applying pruning masks)
``on_evaluate(trainer, metrics)``     after an evaluation; ``metrics`` (``{"val_loss": ...}``) may be extended
                                      in place with a chapter's own numbers, which then land in ``history``
``on_fit_end(trainer)``               when ``fit()`` stops (budget, max_steps or an exception)
====================================  ===========================================================================

They run in the order they were given. A callback's own state is not saved in checkpoints: keep what must
survive a resume in the model (a buffer) or rebuild it in ``on_fit_start``.
"""

from __future__ import annotations

HOOKS = ("on_fit_start", "on_after_backward", "on_step_end", "on_evaluate", "on_fit_end")


def check_callbacks(callbacks) -> list:
    """The callbacks as a list; an object with none of the hooks is a mistake (a typo in a method name)."""
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not any(callable(getattr(callback, hook, None)) for hook in HOOKS):
            raise TypeError(f"{type(callback).__name__} has none of the Trainer's hooks ({', '.join(HOOKS)}); "
                            "check the method names.")
    return callbacks


def trigger(callbacks: list, hook: str, *args) -> None:
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)
