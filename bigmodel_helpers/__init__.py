"""Helpers for the executable course 从零开始大模型开发与微调. Small modules, one job each.

A chapter's run:
    ``course``        ``start()`` and ``ChapterRun``: sizes, device, thread policy, ``record``, ``show``, ``finish``
    ``profiles``      the three profiles and ``sizes(stem, profile)``
    ``sizes/``        one module per chapter: its sizes (cpu, and smoke/gpu as overrides)
    ``env``           device choice, the one seed helper, the one thread policy, the environment report
    ``results``       headline numbers in build/<profile>/results.json and their bands

Real data and models:
    ``assets/``       ``registry`` (what exists, fetch, verify) · ``resolve`` (path -> cache -> hub -> offline)
                      · ``models`` (encoder, causal LM, image classifier) · ``datasets`` · ``cli``
    ``textdata``      IMDb cleaned and split once (cached on disk); the next-token window dataset
    ``clipart``       chapter 8's image–title pairs: openclipart SVGs listed once, titles parsed safely, rendered
                      (cached .npz), perceptual hash, cleaning, a grouped split; the Font Awesome icons as the
                      pair set where openclipart is missing (``load_pairs``)
    ``multimodal``    chapter 8's towers: unfreezing the last blocks, towers + heads end to end, a real CLIP's
                      zero-shot scoring

Models, training, measuring:
    ``models/``       model code several chapters, tests or torchrun scripts need: ``gpt`` (GPT-2 from scratch),
                      ``lora`` (LoRA from scratch: ``LoRALinear``, ``inject_lora``, ``merge_lora``),
                      ``lora_cost`` (one step's time and peak memory, LoRA vs full, in a fresh process)
    ``train/``        ``Trainer`` and its ``config``, ``data``, ``callbacks``, ``budget``, ``checkpoint``,
                      ``distributed``, ``plot``
    ``handover``      a model one chapter saves and a later one loads (chapter 3's character GPT, chapter 6)
    ``measure``       matmul rate, latency percentiles, model bytes
    ``images``        grey images to an ImageNet model's input, its penultimate features, the Fréchet distance
    ``stats``         paired comparisons of two models on the same items (McNemar, paired bootstrap)
    ``serving``       appendix A's inference server: validation, health, dynamic micro-batching (FastAPI)
    ``ddp_demo``      the script chapter 5 launches with torchrun (DDP = one process, asserted)

Teaching and running the course:
    ``exercises``     auto-checked exercises (``compare``, ``check_function``, ``check_value``)
    ``student``       learner copies without solutions or references
    ``notebooks``     executes chapters with papermill (``make course``, the tests)
    ``coursemap``     chapter titles and the README course map
    ``colab``         the Colab set-up cell and badges
"""

__version__ = "0.1.0"


def start(chapter: str, profile: str, seed: int = 0, device: str = "auto", threads: int | None = None,
          threads_reason: str = ""):
    """Begin a chapter run; see ``bigmodel_helpers.course.start``."""
    from .course import start as _start
    return _start(chapter, profile, seed=seed, device=device, threads=threads, threads_reason=threads_reason)
