"""Comparing two models scored on the same test items: paired tests, never two separate standard errors.

* ``mcnemar(correct_a, correct_b)`` -- the exact McNemar test on the items where exactly one model is right.
* ``paired_bootstrap(values_a, values_b, statistic)`` -- a confidence interval for the difference of any
  per-item statistic (accuracy, a loss, a log-likelihood), resampling items with both models' values together.
"""

from __future__ import annotations

import numpy as np


def _as_bool(name: str, values) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of per-item results (True = correct).")
    return array.astype(bool)


def mcnemar(correct_a, correct_b) -> dict:
    """Exact (binomial) McNemar test of "A and B are equally accurate" on the same items.

    ``correct_a``, ``correct_b``: per item, whether each model got it right (same order, same items).
    Returns ``{"a_only": n10, "b_only": n01, "accuracy_a", "accuracy_b", "difference": acc_a - acc_b,
    "p_value": two-sided}``. Only the items where the models disagree carry information."""
    from scipy.stats import binomtest
    a, b = _as_bool("correct_a", correct_a), _as_bool("correct_b", correct_b)
    if a.shape != b.shape:
        raise ValueError(f"both models must be scored on the same items: got {a.size} and {b.size} results.")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = a_only + b_only
    p_value = 1.0 if discordant == 0 else float(binomtest(a_only, discordant, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "accuracy_a": float(a.mean()), "accuracy_b": float(b.mean()),
            "difference": float(a.mean() - b.mean()), "p_value": p_value}


def paired_bootstrap(values_a, values_b, statistic=np.mean, resamples: int = 2000, confidence: float = 0.95,
                     seed: int = 0) -> dict:
    """Percentile interval for ``statistic(values_a) - statistic(values_b)`` over items resampled in pairs.

    Returns ``{"difference", "low", "high", "p_value"}``; ``p_value`` is the two-sided share of resampled
    differences on the other side of zero (a rough check, not an exact test)."""
    a, b = np.asarray(values_a, dtype=float), np.asarray(values_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError("values_a and values_b must be non-empty 1-D arrays of the same items, in the same order.")
    rng = np.random.default_rng(seed)
    index = rng.integers(0, a.size, size=(resamples, a.size))
    diffs = np.array([statistic(a[i]) - statistic(b[i]) for i in index])
    tail = (1 - confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    observed = float(statistic(a) - statistic(b))
    p_value = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    return {"difference": observed, "low": float(low), "high": float(high), "p_value": float(p_value)}
