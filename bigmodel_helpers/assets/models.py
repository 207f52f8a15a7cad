"""Pretrained models: the encoder, the causal language model (converted once into the cache) and the
image classifier (EfficientNet-Lite0 weights renamed to timm's layout)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from .registry import Asset, get_asset
from .resolve import _resolve, _say, cache_dir


def load_encoder(profile: str, path=None, num_labels: int | None = None):
    """A pretrained BERT-family encoder and its tokenizer: MiniLM-L6 offline, bert-base-uncased on the hub.

    ``num_labels`` adds a new (randomly initialised) classification head. Returns ``(tokenizer, model, name)``.
    """
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer
    asset = get_asset("encoder")
    where, source = _resolve(asset, profile, path)
    if source.startswith("the offline"):
        where = str(Path(where) / "model")
    _say(asset, where, source)
    tokenizer = AutoTokenizer.from_pretrained(where)
    if num_labels is None:
        model = AutoModel.from_pretrained(where)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(where, num_labels=num_labels)
    return tokenizer, model, where


def load_causal_lm(profile: str, path=None):
    """A pretrained causal language model: SmolLM2-135M-Instruct offline, gpt2 on the hub (gpu profile).
    Returns ``(tokenizer, model, name)``.

    The offline model ships as GGUF (4-bit). Converting it (dequantising to fp32, rebuilding the tokenizer)
    is slow, so the first load saves the converted model to the course cache and later loads read that.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    asset = get_asset("causal_lm")
    where, source = _resolve(asset, profile, path)
    _say(asset, where, source)
    if not source.startswith("the offline"):
        tokenizer = AutoTokenizer.from_pretrained(where)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32)
        note = Path(where) / "SOURCE.txt"   # written by _save_to_cache: the model's name on its first line
        return tokenizer, model, (note.read_text().splitlines()[0] if note.is_file() else Path(where).name)
    gguf = {"gguf_file": asset.files[0]}
    tokenizer = AutoTokenizer.from_pretrained(where, **gguf)
    model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **gguf)
    _save_to_cache(asset, tokenizer, model)
    return tokenizer, model, "SmolLM2-135M-Instruct"


def _save_to_cache(asset: Asset, tokenizer, model) -> None:
    """Write a converted model to ``<cache>/models/<asset>`` atomically (a folder renamed into place)."""
    import shutil
    import tempfile
    target = cache_dir() / "models" / asset.name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{asset.name}-"))
    try:
        tokenizer.save_pretrained(tmp)
        # A model loaded from GGUF refuses save_pretrained; its weights are plain fp32 by now, so copy them
        # into a model built from the same config without the GGUF marker.
        from transformers import AutoModelForCausalLM
        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=model.dtype)
        plain.load_state_dict(model.state_dict())
        plain.save_pretrained(tmp)
        (tmp / "SOURCE.txt").write_text(f"SmolLM2-135M-Instruct\nconverted from {asset.package} ({asset.files[0]})\n")
        os.replace(tmp, target)
        print(f"[assets] {asset.name}: converted once and saved to {target} (later loads are fast)")
    except (OSError, ValueError) as err:   # a full disk or a read-only cache only costs speed
        print(f"[assets] {asset.name}: could not cache the converted model ({err})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ImageNet preprocessing of each image model: (mean, std) on RGB in [0, 1].
IMAGE_NORMALISATION = {"efficientnet_lite0": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
                       "resnet18": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}


def load_image_classifier(profile: str, path=None):
    """An ImageNet-1k classifier: EfficientNet-Lite0 offline (timm architecture), torchvision resnet18 on
    the hub. Returns ``(model, preprocess, categories, name)``; ``preprocess`` maps a PIL image or an
    HxWx3 uint8 array to a normalised 3x224x224 tensor."""
    import torch
    import torchvision
    from torchvision.transforms import v2
    asset = get_asset("image_model")
    where, source = _resolve(asset, profile, path)
    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]   # no download
    if source.startswith("the hub"):
        name = "resnet18"
        print("[assets] image_model: resnet18 from torchvision (gpu profile, online)")
        model = torchvision.models.resnet18(weights="IMAGENET1K_V1")
    else:
        import timm
        name = "efficientnet_lite0"
        file = Path(where) / asset.files[0] if Path(where).is_dir() else Path(where)
        _say(asset, str(file), source)
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        state = torch.load(file, map_location="cpu", weights_only=True)
        model.load_state_dict(_rename_efficientnet_keys(state))
    mean, std = IMAGE_NORMALISATION[name]
    # A plain 224x224 resize (no crop) keeps the whole object in photos like skimage's chelsea.
    preprocess = v2.Compose([v2.ToImage(), v2.Resize((224, 224), antialias=True),
                             v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])
    return model.eval(), preprocess, categories, name


_LITE0_STAGE_SIZES = (1, 2, 2, 3, 3, 4, 1)
_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_BLOCK_WITH_EXPAND = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                      "_project_conv": "conv_pwl", "_bn2": "bn3"}
_BLOCK_WITHOUT_EXPAND = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}


def _rename_efficientnet_keys(state: dict) -> dict:
    """efficientnet-pytorch names (``_blocks.7._expand_conv.weight``) -> timm's (``blocks.3.1.conv_pw.weight``)."""
    position = [(stage, i) for stage, n in enumerate(_LITE0_STAGE_SIZES) for i in range(n)]
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            stage, index = position[int(parts[1])]
            table = _BLOCK_WITHOUT_EXPAND if stage == 0 else _BLOCK_WITH_EXPAND
            renamed[".".join(["blocks", str(stage), str(index), table[parts[2]], *parts[3:]])] = value
        else:
            renamed[".".join([_TOP_LEVEL[parts[0]], *parts[1:]])] = value
    return renamed


# A chat model (with a chat template) for the gpu profile; the offline one is the causal_lm asset.
CHAT_HUB_NAME = "HuggingFaceTB/SmolLM2-360M-Instruct"


def load_chat_lm(profile: str, path=None):
    """A causal language model with a chat template: SmolLM2-135M-Instruct offline (the ``causal_lm``
    asset, in every profile without the hub), SmolLM2-360M-Instruct from the hub in the gpu profile.
    Returns ``(tokenizer, model, name)``. (``load_causal_lm`` gives gpt2 on the hub, which has no chat
    template.)"""
    from ..profiles import check_profile
    from .resolve import hub_online
    check_profile(profile)
    if path is None and profile == "gpu":
        if hub_online():
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            print(f"[assets] chat_lm: {CHAT_HUB_NAME} from the hub (gpu profile, online)")
            tokenizer = AutoTokenizer.from_pretrained(CHAT_HUB_NAME)
            model = AutoModelForCausalLM.from_pretrained(CHAT_HUB_NAME, dtype=torch.float32)
            return tokenizer, model, CHAT_HUB_NAME.split("/")[-1]
        print(f"[assets] chat_lm: the hub is unreachable, so the offline SmolLM2-135M-Instruct replaces {CHAT_HUB_NAME!r}")
    return load_causal_lm("cpu", path)
