"""IMDb reviews, cleaned and split once for the whole course (chapters 4 and 6 share these splits).

Order matters: clean -> drop exact duplicates -> split. Dropping duplicates *after* splitting would leave
copies of the same review on both sides of the train/test line (leakage); chapter 4 measures how many.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pandas as pd

from .assets import load_imdb

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")

# Fractions of the de-duplicated reviews. Train is ~24.8k, close to the original 25k training set.
SPLIT_FRACTIONS = {"train": 0.5, "val": 0.1, "test": 0.4}


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


def imdb_splits(seed: int = 0, rows: int | None = None) -> ImdbSplits:
    """Clean, de-duplicate, then split IMDb into stratified train/val/test (50/10/40 %).

    Each split comes shuffled with a fixed seed, so ``split.head(n)`` is a random, roughly balanced subset:
    chapters that cannot afford the whole test set use ``test.head(n)`` so every method sees the same
    examples. ``rows`` keeps only the first ``rows`` reviews of the CSV (for quick experiments).
    """
    from sklearn.model_selection import train_test_split

    raw = load_imdb()
    if rows is not None:
        if rows < 100:
            raise ValueError(f"rows={rows} is too few to split three ways; use at least 100 (or None for all).")
        raw = raw.head(rows)
    frame = pd.DataFrame({"review": raw["review"].map(clean_review), "label": raw["label"]})
    unique = frame.drop_duplicates(subset="review").reset_index(drop=True)
    test_size = SPLIT_FRACTIONS["test"]
    val_size = SPLIT_FRACTIONS["val"] / (1 - test_size)
    rest, test = train_test_split(unique, test_size=test_size, stratify=unique["label"], random_state=seed)
    train, val = train_test_split(rest, test_size=val_size, stratify=rest["label"], random_state=seed)
    shuffled = [part.sample(frac=1.0, random_state=seed).reset_index(drop=True) for part in (train, val, test)]
    return ImdbSplits(*shuffled, raw_rows=len(raw), duplicates_removed=len(frame) - len(unique))
