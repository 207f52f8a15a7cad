"""Image helpers for chapters 7 and 8: small grey images turned into an ImageNet model's input, that model's
penultimate features, and the Fréchet distance between two sets of feature vectors (the formula behind FID).

* ``to_model_input(images, size, mean, std)`` -- (N, 784) / (N, H, W) / (N, C, H, W) in [0, 1] -> (N, 3, size, size)
* ``image_features(model, images, batch_size)`` -- penultimate features of a timm or torchvision classifier
* ``split_last_stage(model)`` -- (trunk, last stage, pool, head) of a timm EfficientNet or torchvision ResNet
* ``gaussian_stats(features)``, ``frechet_distance(a, b)`` -- mean and covariance, and the distance between the
  Gaussians fitted to two sets of features
* ``new_head(model, classes)``, ``reinitialise(model)`` -- a fresh classifier layer; the same architecture with a
  random initialisation (the "from scratch" arm of a transfer-learning comparison)
* ``EMA(decay)`` -- a Trainer callback keeping an exponential moving average of the weights
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F


def to_model_input(images, size: int, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """Grey or RGB images with values in [0, 1] -> a float32 (N, 3, size, size) batch, resized (bilinear,
    antialiased) and normalised per channel with ``mean``/``std`` (EfficientNet-Lite0: 0.5 and 0.5).
    Accepts (N, H*W) square images, (N, H, W) or (N, C, H, W) with C = 1 or 3."""
    x = torch.as_tensor(images, dtype=torch.float32)
    if x.dim() == 2:
        side = round(x.shape[1] ** 0.5)
        if side * side != x.shape[1]:
            raise ValueError(f"flat images of {x.shape[1]} values are not square; pass (N, H, W) instead.")
        x = x.view(-1, 1, side, side)
    elif x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images of shape {tuple(x.shape)}: expected (N, H*W), (N, H, W) or (N, 1 or 3, H, W).")
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    x = x.expand(-1, 3, -1, -1)
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous()


def _penultimate(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    if hasattr(model, "forward_head"):            # timm: features -> global pool (pre_logits skips the classifier)
        return model.forward_head(model.forward_features(x), pre_logits=True)
    if hasattr(model, "fc"):                       # torchvision ResNet: everything but the last linear layer
        body = torch.nn.Sequential(*list(model.children())[:-1])
        return body(x).flatten(1)
    raise TypeError(f"{type(model).__name__}: don't know where its penultimate layer is (timm or torchvision ResNet).")


def split_last_stage(model: torch.nn.Module):
    """An ImageNet classifier cut into four pieces, ``head(pool(stage(trunk(x))))`` == its logits:
    ``trunk`` (everything before the last stage), ``stage`` (the last stage, ending in the final feature maps,
    the layer Grad-CAM looks at), ``pool`` (global average pool to a vector) and ``head`` (the linear classifier).
    The pieces share the model's parameters (no copies)."""
    if hasattr(model, "blocks") and hasattr(model, "conv_head"):      # timm EfficientNet
        trunk = torch.nn.Sequential(model.conv_stem, model.bn1, *model.blocks[:-1])
        stage = torch.nn.Sequential(model.blocks[-1], model.conv_head, model.bn2)
        return trunk, stage, model.global_pool, model.get_classifier()
    if hasattr(model, "layer4") and hasattr(model, "fc"):             # torchvision ResNet
        trunk = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1,
                                    model.layer2, model.layer3)
        return trunk, model.layer4, torch.nn.Sequential(model.avgpool, torch.nn.Flatten(1)), model.fc
    raise TypeError(f"{type(model).__name__}: split_last_stage knows timm EfficientNets and torchvision ResNets.")


@torch.no_grad()
def image_features(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 64, device=None,
                   progress: bool = False) -> torch.Tensor:
    """The penultimate features (N, model.num_features) of an ImageNet classifier for prepared inputs
    (N, 3, H, W), in eval mode, batch by batch; returned on the CPU. The classifier applied to them gives the
    model's logits."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    chunks = range(0, len(images), batch_size)
    if progress:
        from tqdm.auto import tqdm
        chunks = tqdm(chunks, desc="features", leave=False)
    try:
        out = [_penultimate(model, images[i:i + batch_size].to(device)).float().cpu() for i in chunks]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of (N, D) features, in float64 (N >= 2)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must be (N, D) with N >= 2, got shape {f.shape}.")
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(c: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((c + c.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_from_stats(mu_a, cov_a, mu_b, cov_b) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu_a, cov_a) and N(mu_b, cov_b), squared:
    ||mu_a - mu_b||^2 + tr(cov_a + cov_b - 2 (cov_a^1/2 cov_b cov_a^1/2)^1/2). The inner square root is of a
    symmetric positive semi-definite matrix, so eigenvalues give it exactly (no complex round-off)."""
    root_a = _sqrt_psd(np.asarray(cov_a, dtype=np.float64))
    middle = root_a @ np.asarray(cov_b, dtype=np.float64) @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = np.asarray(mu_a, dtype=np.float64) - np.asarray(mu_b, dtype=np.float64)
    return float(max(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root, 0.0))


def frechet_distance(features_a, features_b) -> float:
    """The Fréchet distance between Gaussians fitted to two sets of (N, D) features. With Inception-v3
    features this is FID; with any other network's features it is a different, incomparable number."""
    return frechet_from_stats(*gaussian_stats(features_a), *gaussian_stats(features_b))


def new_head(model: torch.nn.Module, classes: int) -> torch.nn.Module:
    """Replace an ImageNet classifier's last linear layer by a fresh one with ``classes`` outputs, in place
    (timm models through ``reset_classifier``, torchvision ResNets through ``fc``); returns the model."""
    if hasattr(model, "reset_classifier"):
        model.reset_classifier(classes)
    elif isinstance(getattr(model, "fc", None), torch.nn.Linear):
        model.fc = torch.nn.Linear(model.fc.in_features, classes)
    else:
        raise TypeError(f"{type(model).__name__}: new_head knows timm models and torchvision ResNets.")
    return model


def reinitialise(model: torch.nn.Module) -> int:
    """Give every layer a fresh random initialisation (its own ``reset_parameters``: convolutions, linear
    layers, norms; BatchNorm's running statistics are reset too): the same architecture with none of its
    pretrained knowledge. A layer holding parameters without ``reset_parameters`` is an error, so nothing
    pretrained survives silently. Returns the number of layers reset."""
    reset = 0
    for name, module in model.named_modules():
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        if not callable(getattr(module, "reset_parameters", None)):
            raise TypeError(f"layer {name!r} ({type(module).__name__}) holds parameters but has no reset_parameters().")
        module.reset_parameters()
        reset += 1
    return reset


class EMA:
    """A ``Trainer`` callback that keeps an exponential moving average of the model's weights in ``self.model``
    (a frozen copy made when ``fit()`` starts). After the k-th optimizer step: ema = d·ema + (1 − d)·weights with
    d = min(decay, (1 + k) / (10 + k)) when ``warmup`` (TensorFlow's ExponentialMovingAverage with num_updates:
    early on the average forgets the random initialisation quickly), else d = decay. Buffers (BatchNorm
    statistics) are copied, not averaged. Sample or evaluate with ``ema.model``; the trained model is untouched.
    Not saved in checkpoints: a resumed run starts a new average."""

    def __init__(self, decay: float = 0.999, warmup: bool = True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}.")
        self.decay, self.warmup, self.model, self.updates = decay, warmup, None, 0

    def decay_at(self, k) -> float:
        """The decay used at the k-th update (k = 1, 2, ...)."""
        return min(self.decay, (1 + float(k)) / (10 + float(k))) if self.warmup else self.decay

    def on_fit_start(self, trainer) -> None:
        if self.model is None:                  # a second fit() call goes on with the same average
            self.model = copy.deepcopy(trainer.model).eval().requires_grad_(False)

    def on_step_end(self, trainer) -> None:
        self.update(trainer.model)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        if self.model is None:
            self.model = copy.deepcopy(model).eval().requires_grad_(False)
            return
        self.updates += 1
        d = self.decay_at(self.updates)
        for average, weight in zip(self.model.parameters(), model.parameters()):
            average.lerp_(weight.detach(), 1.0 - d)
        for average, buffer in zip(self.model.buffers(), model.buffers()):
            average.copy_(buffer)
