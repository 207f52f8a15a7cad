"""Model code that more than one chapter, a test or a torchrun script needs.

``from bigmodel_helpers.models import gpt`` -- the from-scratch GPT-2 (chapters 3 and 6, ``tests/``, ``bench/``).
``from bigmodel_helpers.models import lora`` -- LoRA from scratch (chapter 9; chapter 10 may reuse it).
``python -m bigmodel_helpers.models.lora_cost`` -- a LoRA or full fine-tuning step's cost in a fresh process.
"""
