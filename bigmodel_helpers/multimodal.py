"""Chapter 8's towers: unfreeze the last blocks of a pretrained tower, train towers and heads end to end, and
score a real CLIP zero-shot.

``tower_blocks`` (the repeated blocks of a timm EfficientNet, a torchvision ResNet or a BERT-family encoder, in
order), ``unfreeze_last_blocks`` (everything frozen except the last n blocks), ``TowerCLIP`` (image tower + text
tower + the chapter's projection heads as one module the Trainer can fit; the towers' batch-norm statistics and
dropout stay as pretrained) and ``clip_zero_shot`` (a Hugging Face ``CLIPModel``'s zero-shot predictions with
one prompt template or an ensemble of several).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def tower_blocks(model: nn.Module) -> list[nn.Module]:
    """The repeated blocks of a tower, first to last: timm EfficientNet (``blocks``, stages flattened), torchvision
    ResNet (the blocks of ``layer1``..``layer4``), BERT-family encoders (``encoder.layer``)."""
    if hasattr(model, "conv_stem") and hasattr(model, "blocks"):
        return [block for stage in model.blocks for block in stage]
    if all(hasattr(model, f"layer{k}") for k in range(1, 5)):
        return [block for k in range(1, 5) for block in getattr(model, f"layer{k}")]
    encoder = getattr(model, "encoder", None)
    if encoder is not None and hasattr(encoder, "layer"):
        return list(encoder.layer)
    raise TypeError(f"{type(model).__name__}: no known block list (EfficientNet, ResNet or BERT-family expected)")


def unfreeze_last_blocks(model: nn.Module, n: int) -> list[str]:
    """Freeze every parameter of ``model``, then make the parameters of its last ``n`` blocks trainable
    (``n`` = 0: all frozen). Returns the names of the trainable parameters."""
    blocks = tower_blocks(model)
    if not 0 <= n <= len(blocks):
        raise ValueError(f"n={n}: the model has {len(blocks)} blocks")
    for p in model.parameters():
        p.requires_grad_(False)
    for block in blocks[len(blocks) - n:]:
        for p in block.parameters():
            p.requires_grad_(True)
    return [name for name, p in model.named_parameters() if p.requires_grad]


class TowerCLIP(nn.Module):
    """Image tower -> pooled vector, text tower -> mean over real tokens; both standardised with the fixed
    statistics the heads were trained with, then the heads (``heads(img, txt) -> (u, v, scale)``).

    ``pooled_image(image_model, x)`` returns the pooled image vector of a normalised (B, 3, S, S) batch; pixels
    come in as (B, H, W, 3) uint8 and are resized to ``input_size`` and normalised with ``mean``/``std``."""

    def __init__(self, image_model, text_model, heads, pooled_image: Callable, stats: dict,
                 input_size: int = 224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)):
        super().__init__()
        self.image_model, self.text_model, self.heads, self.pooled_image = image_model, text_model, heads, pooled_image
        self.input_size = input_size
        self.register_buffer("pixel_mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        for key in ("img_mean", "img_std", "txt_mean", "txt_std"):
            self.register_buffer(key, torch.as_tensor(stats[key], dtype=torch.float32))

    def train(self, mode: bool = True):
        super().train(mode)
        self.image_model.eval()   # batch-norm running statistics and dropout stay as pretrained
        self.text_model.eval()
        return self

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).float() / 255
        x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True,
                          align_corners=False)
        pooled = self.pooled_image(self.image_model, (x - self.pixel_mean) / self.pixel_std)
        return (pooled.float() - self.img_mean) / self.img_std

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.text_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        m = attention_mask[..., None].float()
        return ((hidden * m).sum(1) / m.sum(1) - self.txt_mean) / self.txt_std

    def forward(self, pixels, input_ids, attention_mask, **_):
        return self.heads(self.image_features(pixels), self.text_features(input_ids, attention_mask))


def _embedding(out) -> torch.Tensor:
    """``get_*_features`` returns a tensor in older transformers, an output with ``pooler_output`` in newer."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def clip_zero_shot(model, tokenizer, image_processor, images, class_names: Sequence[str],
                   templates: str | Sequence[str], device="cpu", batch: int = 64) -> np.ndarray:
    """A CLIP model's zero-shot class index per image: the class whose prompt embedding (the mean of the
    normalised embeddings over ``templates``, renormalised) has the highest cosine with the image embedding."""
    templates = [templates] if isinstance(templates, str) else list(templates)
    model = model.to(device).eval()
    with torch.inference_mode():
        classes = []
        for name in class_names:
            text = tokenizer([t.format(name) for t in templates], return_tensors="pt", padding=True)
            emb = F.normalize(_embedding(model.get_text_features(**{k: v.to(device) for k, v in text.items()})), dim=-1)
            classes.append(F.normalize(emb.mean(0), dim=-1))
        t = torch.stack(classes)
        preds = []
        for s in range(0, len(images), batch):
            pix = image_processor(images=list(images[s:s + batch]), return_tensors="pt")["pixel_values"].to(device)
            u = F.normalize(_embedding(model.get_image_features(pixel_values=pix)), dim=-1)
            preds.append((u @ t.T).argmax(1).cpu())
    return torch.cat(preds).numpy() if preds else np.zeros(0, int)
