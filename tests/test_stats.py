"""Paired comparisons: McNemar counts only disagreements; the bootstrap interval covers the true difference."""

import numpy as np
import pytest
from scipy.stats import binomtest

from bigmodel_helpers import stats


def test_mcnemar_uses_only_the_items_where_the_models_disagree():
    a = np.array([1, 1, 1, 1, 0, 0, 1, 1, 0, 1], dtype=bool)
    b = np.array([1, 0, 0, 0, 0, 1, 1, 1, 0, 1], dtype=bool)
    result = stats.mcnemar(a, b)
    assert (result["a_only"], result["b_only"]) == (3, 1)
    assert result["p_value"] == pytest.approx(binomtest(3, 4, 0.5).pvalue)
    assert result["difference"] == pytest.approx(0.2)
    assert stats.mcnemar(a, a)["p_value"] == 1.0
    big_a, big_b = np.r_[np.ones(200), np.zeros(20)], np.r_[np.zeros(60), np.ones(140), np.zeros(20)]
    assert stats.mcnemar(big_a, big_b)["p_value"] < 1e-10


def test_mcnemar_refuses_different_items():
    with pytest.raises(ValueError, match="same items"):
        stats.mcnemar([1, 0, 1], [1, 0])


def test_paired_bootstrap_interval_covers_a_known_difference():
    rng = np.random.default_rng(1)
    base = rng.normal(size=500)
    result = stats.paired_bootstrap(base + 0.3 + rng.normal(scale=0.1, size=500), base, resamples=500)
    assert result["low"] < 0.3 < result["high"] and result["high"] - result["low"] < 0.05
    assert result["p_value"] < 0.01
