"""Helpers for the executable course 从零开始大模型开发与微调.

Small modules, one job each: ``profiles`` (sizes), ``env`` (device, seeds, report), ``assets`` (real models
and datasets, offline first), ``results`` (headline numbers), ``train`` (the training loop),
``exercises`` (auto-checked exercises), ``plots``.
"""

from .course import ChapterRun, start

__all__ = ["ChapterRun", "start"]
__version__ = "0.1.0"
