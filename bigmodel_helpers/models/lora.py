"""LoRA written from scratch (chapter 9; chapter 10 may reuse it).

A frozen ``nn.Linear`` ``W`` gets a trainable low-rank update: ``y = x W^T + b + (alpha / r) * dropout(x) A^T B^T``
with ``A`` (r x in) random and ``B`` (out x r) zero, so a freshly wrapped layer computes exactly what the base
layer computes. ``A`` is initialised like ``peft`` does (Kaiming-uniform with ``a = sqrt(5)``), so with the
same seed the two give the same numbers.

    layer = LoRALinear(nn.Linear(16, 32), r=4, alpha=8)
    names = inject_lora(model, ["q_proj", "v_proj"], r=8, alpha=16)   # freezes everything else
    merge_lora(model)                                                  # folds B A into W, removes the wrappers
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable rank-``r`` update scaled by ``alpha / r``."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        if not (isinstance(r, int) and r > 0):
            raise ValueError(f"r={r!r} must be a positive int (the rank of the update).")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1).")
        self.base, self.r, self.alpha = base, r, float(alpha)
        self.scaling = self.alpha / r
        for p in self.base.parameters():
            p.requires_grad_(False)
        weight = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=weight.dtype, device=weight.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=weight.dtype, device=weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))   # as peft: B = 0 makes the update zero anyway
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        """The update as a full (out x in) matrix: ``scaling * B A``."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with ``W + scaling * B A`` (what inference uses: no extra matmuls)."""
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None,
                        device=self.base.weight.device, dtype=self.base.weight.dtype)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:g}"


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def inject_lora(model: nn.Module, target_names, r: int, alpha: float, dropout: float = 0.0) -> list[str]:
    """Freeze every parameter of ``model`` and wrap each ``nn.Linear`` whose last name part is in
    ``target_names`` (e.g. ``["q_proj", "v_proj"]``) in a ``LoRALinear``. Returns the wrapped layers' names."""
    targets = set([target_names] if isinstance(target_names, str) else target_names)
    for p in model.parameters():
        p.requires_grad_(False)
    names = [name for name, module in model.named_modules()
             if isinstance(module, nn.Linear) and name.rpartition(".")[2] in targets]
    if not names:
        raise ValueError(f"No nn.Linear named {sorted(targets)} in the model; its linear layers end in "
                         f"{sorted({n.rpartition('.')[2] for n, m in model.named_modules() if isinstance(m, nn.Linear)})}.")
    for name in names:
        _replace(model, name, LoRALinear(model.get_submodule(name), r, alpha, dropout))
    return names


def merge_lora(model: nn.Module) -> list[str]:
    """Replace every ``LoRALinear`` in ``model`` by its merged ``nn.Linear`` (in place). Returns their names."""
    names = [name for name, module in model.named_modules() if isinstance(module, LoRALinear)]
    for name in names:
        _replace(model, name, model.get_submodule(name).merged())
    return names


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter weights (``lora_A``/``lora_B``): what you save and ship after LoRA fine-tuning."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if ".lora_A" in k or ".lora_B" in k}
