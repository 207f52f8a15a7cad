"""Text data shared by the chapters: IMDb reviews cleaned and split once for the whole course (chapters 4
and 6 share these splits), and next-token windows over a token sequence (chapters 2, 3 and 6).

Order matters: clean -> drop exact duplicates -> split. Dropping duplicates *after* splitting would leave
copies of the same review on both sides of the train/test line (leakage); chapter 4 measures how many.
The splits are cached on disk (``<course cache>/imdb/``): cleaning 50,000 reviews takes seconds, reading
the cleaned splits back a fraction of that.
"""

from __future__ import annotations

import hashlib
import html
import json
import operator
import os
import re
import tempfile
from dataclasses import dataclass
from importlib import metadata

import pandas as pd
import torch

from .assets import cache_dir, imdb_source, load_imdb

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")

# Fractions of the de-duplicated reviews. Train is ~24.8k, close to the original 25k training set.
SPLIT_FRACTIONS = {"train": 0.5, "val": 0.1, "test": 0.4}

# Part of the cache key of the splits: bump it whenever clean_review, the de-duplication or the split changes,
# so that no cached split made by older code is read back.
CLEANING_VERSION = 1


def clean_review(text: str) -> str:
    """Remove HTML tags (the reviews contain ``<br /><br />``), unescape entities, collapse whitespace."""
    if not isinstance(text, str):
        raise TypeError(f"clean_review expects a string, got {type(text).__name__}")
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()


@dataclass
class ImdbSplits:
    train: pd.DataFrame      # columns: review (clean text), label (1 positive, 0 negative)
    val: pd.DataFrame
    test: pd.DataFrame
    raw_rows: int            # rows in the CSV
    duplicates_removed: int  # exact duplicates (after cleaning) dropped before splitting

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def imdb_splits(seed: int = 0, rows: int | None = None, cache: bool = True) -> ImdbSplits:
    """Clean, de-duplicate, then split IMDb into stratified train/val/test (50/10/40 %).

    Each split comes shuffled with a fixed seed, so ``split.head(n)`` is a random, roughly balanced subset:
    chapters that cannot afford the whole test set use ``test.head(n)`` so every method sees the same
    examples. ``rows`` keeps only the first ``rows`` reviews of the CSV (for quick experiments).

    The result is cached in the course cache, keyed by ``seed``, ``rows``, the source file (name, size,
    modification time), ``CLEANING_VERSION`` and the library versions that shape the split; a damaged cache
    file is ignored and rewritten. ``cache=False`` always recomputes and writes nothing. Prints nothing.
    """
    if rows is not None and rows < 100:
        raise ValueError(f"rows={rows} is too few to split three ways; use at least 100 (or None for all).")
    if not cache:
        return _make_imdb_splits(seed, rows)
    key = _imdb_cache_key(seed, rows)
    path = imdb_cache_path(key)
    splits = _read_imdb_cache(path, key)
    if splits is None:
        splits = _make_imdb_splits(seed, rows)
        _write_imdb_cache(path, key, splits)
    return splits


def _make_imdb_splits(seed: int, rows: int | None) -> ImdbSplits:
    from sklearn.model_selection import train_test_split

    raw = load_imdb()
    if rows is not None:
        raw = raw.head(rows)
    frame = pd.DataFrame({"review": raw["review"].map(clean_review), "label": raw["label"]})
    unique = frame.drop_duplicates(subset="review").reset_index(drop=True)
    test_size = SPLIT_FRACTIONS["test"]
    val_size = SPLIT_FRACTIONS["val"] / (1 - test_size)
    rest, test = train_test_split(unique, test_size=test_size, stratify=unique["label"], random_state=seed)
    train, val = train_test_split(rest, test_size=val_size, stratify=rest["label"], random_state=seed)
    shuffled = [part.sample(frac=1.0, random_state=seed).reset_index(drop=True) for part in (train, val, test)]
    return ImdbSplits(*shuffled, raw_rows=len(raw), duplicates_removed=len(frame) - len(unique))


# ------------------------------------------------------------------------------- the cache of the splits
_SPLIT_NAMES = ("train", "val", "test")


def _imdb_cache_key(seed: int, rows: int | None) -> dict:
    source = imdb_source()
    stat = source.stat()
    return {"what": "imdb_splits", "cleaning_version": CLEANING_VERSION, "seed": int(seed),
            "rows": None if rows is None else int(rows), "split_fractions": SPLIT_FRACTIONS,
            "source": {"name": source.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns},
            "libraries": {name: metadata.version(name) for name in ("pandas", "numpy", "scikit-learn")}}


def imdb_cache_path(key: dict):
    """The cache file of one key (JSON: never a pickle, which could run code when read)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir() / "imdb" / f"splits-{digest}.json"


def _read_imdb_cache(path, key: dict) -> ImdbSplits | None:
    """The cached splits, or None when the file is missing, damaged or made for another key."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data["key"] != key:
            return None
        frames = []
        for name in _SPLIT_NAMES:
            reviews, labels = data["splits"][name]["review"], data["splits"][name]["label"]
            if (len(reviews) != len(labels) or not all(isinstance(r, str) for r in reviews)
                    or not all(type(v) is int and v in (0, 1) for v in labels)):
                return None
            frames.append(pd.DataFrame({"review": reviews, "label": pd.Series(labels, dtype="int64")}))
        return ImdbSplits(*frames, raw_rows=int(data["raw_rows"]), duplicates_removed=int(data["duplicates_removed"]))
    except (OSError, ValueError, KeyError, TypeError):   # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def _write_imdb_cache(path, key: dict, splits: ImdbSplits) -> None:
    """Write atomically (a temporary file renamed into place); a read-only or full cache only costs speed."""
    data = {"key": key, "raw_rows": splits.raw_rows, "duplicates_removed": splits.duplicates_removed,
            "splits": {name: {"review": getattr(splits, name)["review"].tolist(),
                              "label": [int(v) for v in getattr(splits, name)["label"]]} for name in _SPLIT_NAMES}}
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=".splits-", suffix=".tmp",
                                         delete=False) as f:
            tmp = f.name
            json.dump(data, f, ensure_ascii=False)
        os.chmod(tmp, 0o644)   # mkstemp makes it private; the cache is readable like the rest of it
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        print(f"[textdata] could not cache the IMDb splits in {path.parent} ({err}); they are recomputed next time")
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


# ------------------------------------------------------------------------------------ next-token windows
def _positive_int(value, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


class NextTokenWindows(torch.utils.data.Dataset):
    """Windows of a token sequence for next-token prediction.

    Item ``i`` is ``(ids[s : s+T], ids[s+1 : s+T+1])`` with ``s = i * stride`` and ``T = block_size``: the
    target is the input shifted by one token. There are ``(len(ids) - T - 1) // stride + 1`` items, so the
    last window's target ends at most at the last token. ``stride=1`` gives every window (training);
    ``stride=block_size`` non-overlapping ones.

    ``ids``: a 1-D sequence of integer token ids (list, numpy array or tensor), stored as int64.
    ``vocab_size``: when given, every id is checked once, here, to lie in ``[0, vocab_size)``; an id outside
    would otherwise fail much later, deep inside the model's embedding lookup.
    """

    def __init__(self, ids, block_size: int, stride: int = 1, vocab_size: int | None = None):
        self.block_size = _positive_int(block_size, "block_size")
        self.stride = _positive_int(stride, "stride")
        ids = torch.as_tensor(ids)
        if ids.dim() != 1:
            raise ValueError(f"ids must be a 1-D sequence of token ids, got shape {tuple(ids.shape)}")
        need = self.block_size + 1
        if len(ids) < need:
            raise ValueError(f"ids has {len(ids)} tokens, too few for one window of block_size={self.block_size}: "
                             f"it must be at least block_size + 1 = {need} tokens long (input plus the "
                             "shifted target)")
        if ids.dtype == torch.bool or ids.is_floating_point() or ids.is_complex():
            raise TypeError(f"ids must hold integer token ids, got dtype {ids.dtype}")
        self.ids = ids.long()
        self.vocab_size = None
        if vocab_size is not None:
            self.vocab_size = _positive_int(vocab_size, "vocab_size")
            low, high = int(self.ids.min()), int(self.ids.max())
            if low < 0 or high >= self.vocab_size:
                bad = low if low < 0 else high
                where = int(((self.ids < 0) | (self.ids >= self.vocab_size)).nonzero()[0])
                raise ValueError(f"token id {bad} is outside the vocabulary [0, {self.vocab_size}) (first bad id "
                                 f"at position {where}): the ids and the vocabulary (e.g. the model's "
                                 "vocab_size, the tokenizer) do not match")

    def __len__(self) -> int:
        return (len(self.ids) - self.block_size - 1) // self.stride + 1

    def __getitem__(self, i: int):
        n = len(self)
        i = operator.index(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"window {i} is out of range: there are {n} windows")
        s = i * self.stride
        return self.ids[s:s + self.block_size], self.ids[s + 1:s + self.block_size + 1]

    def __repr__(self) -> str:
        return (f"NextTokenWindows({len(self)} windows of {self.block_size} tokens, stride {self.stride}, "
                f"{len(self.ids):,} tokens)")


def spread_windows(ids, block_size: int, count: int, vocab_size: int | None = None) -> torch.utils.data.Subset:
    """A fixed validation set: ``count`` non-overlapping windows spread evenly over ``ids`` (fewer when
    ``ids`` is too short for ``count``). The stride is ``max(block_size, (len(ids) - block_size - 1) //
    count)``, so the windows reach from the start to (almost) the end of the text."""
    count = _positive_int(count, "count")
    block_size = _positive_int(block_size, "block_size")
    stride = max(block_size, (len(ids) - block_size - 1) // count)
    windows = NextTokenWindows(ids, block_size, stride, vocab_size=vocab_size)
    return torch.utils.data.Subset(windows, range(min(count, len(windows))))


# ------------------------------------------------------------------ Shakespeare: plain text and a play split
def play_plain_text(markdown: str) -> str:
    """One play's Markdown (``assets.load_shakespeare()``) as plain text: ``SPEAKER:`` lines, headings and
    stage directions as text, the play's own title line dropped (chapters 3 and 10)."""
    lines = []
    for line in markdown.splitlines():
        line = line.rstrip()                        # Markdown ends verse lines with two spaces
        if line.startswith("# "):                   # the play's title
            continue
        line = re.sub(r"^#+ ", "", line)            # ## ACT I, ### SCENE II. ...
        line = re.sub(r"^\*\*(.+?)\*\*$", r"\1:", line)   # **HAMLET** -> HAMLET:
        line = re.sub(r"^_(.*)_$", r"\1", line)     # _Enter Ghost_ -> Enter Ghost
        lines.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def shakespeare_split(plays, n_val: int = 4, seed: int = 0):
    """Hold out whole plays: ``(train_plays, val_plays)``, ``n_val`` plays drawn by ``random.Random(seed)``
    from the titles in the order given (chapter 3's split: ``n_val=4, seed=0``). Lines of one play share
    names and phrases, so a split of lines would leak; a split of plays does not."""
    import random
    titles = [p.title for p in plays]
    if len(set(titles)) != len(titles):
        raise ValueError("two plays share a title: the split is by title, so titles must be unique.")
    if not (isinstance(n_val, int) and 0 < n_val < len(titles)):
        raise ValueError(f"n_val={n_val!r}: hold out at least one play and keep at least one of the "
                         f"{len(titles)} for training.")
    val_titles = set(random.Random(seed).sample(titles, n_val))
    return [p for p in plays if p.title not in val_titles], [p for p in plays if p.title in val_titles]
