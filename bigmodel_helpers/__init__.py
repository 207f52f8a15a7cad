"""Helpers for the executable course 从零开始大模型开发与微调.

Small modules, one job each: ``profiles`` (sizes), ``env`` (device, seeds, report), ``assets`` (real models
and datasets, offline first), ``textdata`` (IMDb cleaned and split once, next-token windows), ``results``
(headline numbers and their bands), ``train`` (the training loop), ``exercises`` (auto-checked exercises),
``notebooks`` (runner).
"""

__version__ = "0.1.0"


def start(chapter: str, profile: str, seed: int = 0, device: str = "auto", threads: int | None = None,
          threads_reason: str = ""):
    """Begin a chapter run; see ``bigmodel_helpers.course.start``."""
    from .course import start as _start
    return _start(chapter, profile, seed=seed, device=device, threads=threads, threads_reason=threads_reason)
