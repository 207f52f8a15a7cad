"""Chapter 8's image–text pairs: the openclipart SVGs (Debian ``openclipart-svg``), their titles, rendered.

One job each: ``list_svgs`` (real files only, symlinks and byte-identical copies counted once), ``parse_title``
(``<dc:title>`` read with a parser that refuses entity declarations), ``load_catalog`` (items with their
category = top-level folder of the file's real path), ``render`` / ``render_many`` (RGB on white, cached as
.npz in the course cache keyed by the file list's digest), ``dhash`` / ``near_duplicates`` (a perceptual
hash written here), ``clean`` (collection titles, repeated titles, near-duplicate images) and ``mask_words``.

Rendering needs ``cairosvg`` (PyPI) and the system library libcairo2 (Debian ``libcairo2``; macOS
``brew install cairo``). ``cairosvg`` is called with its default ``unsafe=False``: no external files, no entities.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
CACHE_VERSION = 1   # bump when the rendering changes, so old cached arrays are not reused


@dataclass(frozen=True)
class ClipartItem:
    path: str        # relative to the svg root (the real file, not a symlink)
    category: str    # top-level folder of the real path
    title: str       # the <dc:title>, whitespace collapsed (an icon's label and search terms)
    also: tuple[str, ...] = ()   # other categories the item belongs to (icons can sit in several; clip art: none)


def list_svgs(root: Path) -> tuple[list[Path], dict]:
    """Every real .svg under ``root``, sorted, each file once.

    A symlink counts as its target; byte-identical copies in two folders count once (the first path in sorted
    order wins). Returns ``(paths, counts)`` with counts of what was dropped and why."""
    root = Path(root).resolve()
    seen_real, seen_bytes, keep = set(), set(), []
    counts = Counter()
    for path in sorted(root.rglob("*.svg")):
        real = path.resolve()
        if root not in real.parents:
            counts["link outside the root"] += 1
            continue
        if real in seen_real:
            counts["symlink to a file already listed"] += 1
            continue
        seen_real.add(real)
        digest = hashlib.sha256(real.read_bytes()).hexdigest()
        if digest in seen_bytes:
            counts["byte-identical copy"] += 1
            continue
        seen_bytes.add(digest)
        keep.append(real)
    return keep, dict(counts)


def _parse_root(data: bytes):
    """The XML root of ``data``; refuses DTD entity declarations (billion laughs, external entities)."""
    try:
        import defusedxml.ElementTree as SafeET
        return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except ImportError:   # no defusedxml: stdlib parser, after refusing any entity declaration ourselves
        import xml.etree.ElementTree as ET
        if b"<!ENTITY" in data:
            raise ValueError("entity declarations are refused") from None
        return ET.fromstring(data)


def parse_title(data: bytes) -> str | None:
    """The first non-empty ``<dc:title>`` of an SVG document, whitespace collapsed; None when it has none.
    Raises on unparsable XML or entity declarations (the caller counts and skips those files)."""
    root = _parse_root(data)
    for element in root.iter(DC_TITLE):
        text = " ".join((element.text or "").split())
        if text:
            return text
    return None


def load_catalog(root: Path) -> tuple[list[ClipartItem], dict]:
    """Items (path, category, title) of every real SVG under ``root`` with a title. Returns ``(items, counts)``;
    counts say how many files were dropped and why (unparsable, no title, duplicates)."""
    root = Path(root).resolve()
    paths, counts = list_svgs(root)
    counts = Counter(counts)
    items = []
    for path in paths:
        try:
            title = parse_title(path.read_bytes())
        except Exception as err:  # noqa: BLE001 - a broken or hostile file is skipped and counted, never fatal
            counts[f"unparsable ({type(err).__name__})"] += 1
            continue
        if title is None:
            counts["no <dc:title>"] += 1
            continue
        rel = path.relative_to(root)
        items.append(ClipartItem(str(rel), rel.parts[0] if len(rel.parts) > 1 else "(root)", title))
    return items, dict(counts)


def render(data: bytes, size: int) -> np.ndarray:
    """One SVG document -> (size, size, 3) uint8 RGB on a white background, aspect ratio kept, centred."""
    import cairosvg
    from PIL import Image
    png = cairosvg.svg2png(bytestring=data, output_width=4 * size)   # render large, then fit the box
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    image.thumbnail((size, size), Image.LANCZOS)
    canvas = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    canvas.alpha_composite(image, ((size - image.width) // 2, (size - image.height) // 2))
    return np.asarray(canvas.convert("RGB"))


def list_digest(items: list[ClipartItem], size: int) -> str:
    """A digest of what ``render_many`` would produce: the paths, titles, the size and the cache version."""
    text = "\n".join(f"{i.path}\t{i.title}" for i in items) + f"\n{size}\n{CACHE_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def render_many(items: list[ClipartItem], root: Path, size: int, cache: Path | None = None,
                progress: bool = True) -> tuple[np.ndarray, np.ndarray, dict]:
    """Render ``items`` -> ``(images (N, size, size, 3) uint8, ok (N,) bool, info)``.

    ``ok`` is False where cairosvg failed (that image stays white). With ``cache`` (a folder) the result is
    stored as ``clipart-<digest>.npz`` (arrays and titles, no pickle) and read back on the next call.
    ``info`` has ``seconds``, ``from_cache``, ``failed`` (and ``errors`` by type when rendered) and ``file``."""
    root = Path(root)
    digest = list_digest(items, size)
    file = Path(cache) / f"clipart-{digest}.npz" if cache else None
    if file is not None and file.is_file():
        start = time.perf_counter()
        with np.load(file, allow_pickle=False) as z:
            images, ok, titles = z["images"], z["ok"], z["titles"]
        if list(titles) == [i.title for i in items]:
            return images, ok, {"seconds": time.perf_counter() - start, "from_cache": True,
                                "failed": int((~ok).sum()), "file": str(file)}
    images = np.full((len(items), size, size, 3), 255, np.uint8)
    ok = np.zeros(len(items), bool)
    bar = items
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(items, desc=f"rendering {len(items)} SVGs at {size}x{size}", mininterval=2)
    start = time.perf_counter()
    errors = Counter()
    for n, item in enumerate(bar):
        try:
            images[n] = render((root / item.path).read_bytes(), size)
            ok[n] = True
        except Exception as err:  # noqa: BLE001 - cairosvg refuses entities, some files are broken: counted
            errors[type(err).__name__] += 1
    seconds = time.perf_counter() - start
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, images=images, ok=ok, titles=np.array([i.title for i in items], dtype=str))
        os.replace(tmp, file)   # atomic: a killed run never leaves a half-written cache
    return images, ok, {"seconds": seconds, "from_cache": False, "failed": int((~ok).sum()),
                        "errors": dict(errors), "file": str(file) if file else None}


def dhash(images: np.ndarray, bits: int = 8) -> np.ndarray:
    """Difference hash of (N, H, W, 3) uint8 images -> (N, bits*bits) bool.

    Grey, shrink to ``bits`` x (``bits``+1) by block means, then 1 where a pixel is brighter than its right
    neighbour. Small shifts, recolouring and rescaling barely change it; different drawings differ in ~half."""
    from PIL import Image
    out = np.zeros((len(images), bits * bits), bool)
    for n, image in enumerate(images):
        small = np.asarray(Image.fromarray(image).convert("L").resize((bits + 1, bits), Image.BOX), np.int16)
        out[n] = (small[:, 1:] > small[:, :-1]).ravel()
    return out


def near_duplicates(hashes: np.ndarray, max_distance: int) -> np.ndarray:
    """(N,) bool: True for an item whose hash is within ``max_distance`` bits of an earlier kept item's."""
    packed = hashes.astype(np.uint8)
    drop = np.zeros(len(hashes), bool)
    kept: list[int] = []
    for n in range(len(hashes)):
        if kept and (packed[kept] != packed[n]).sum(1).min() <= max_distance:
            drop[n] = True
        else:
            kept.append(n)
    return drop


def normalise_title(title: str) -> str:
    """Lower case, underscores/dashes/dots as spaces, whitespace collapsed: 'Red_Car-2' -> 'red car 2'."""
    return " ".join(re.sub(r"[_\-./\\]+", " ", title.lower()).split())


def clean(items: list[ClipartItem], hashes: np.ndarray, ok: np.ndarray, max_title_repeats: int,
          max_distance: int, blank: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Which items to keep -> ``(keep (N,) bool, counts of what was dropped and why)``.

    In order: failed renders and blank images; *collection titles* (a normalised title shared by more than
    ``max_title_repeats`` files names a collection, not the picture: 'Part of the Flat Icon Collection');
    *near-duplicate images* (``dhash`` within ``max_distance`` bits of a kept one, the same drawing saved
    twice). A title repeated up to ``max_title_repeats`` times on different drawings ('card') stays: those
    are real duplicate captions, which the split keeps on one side (``stratified_split(groups=...)``) and
    retrieval must count correctly."""
    keep = ok.copy()
    counts = Counter({"render failed": int((~ok).sum())})
    if blank is not None:
        counts["blank image"] = int((keep & blank).sum())
        keep &= ~blank
    norm = [normalise_title(i.title) for i in items]
    frequency = Counter(norm)
    for n, title in enumerate(norm):
        if keep[n] and frequency[title] > max_title_repeats:
            keep[n] = False
            counts["collection title"] += 1
    index = np.flatnonzero(keep)
    dup = near_duplicates(hashes[index], max_distance)
    keep[index[dup]] = False
    counts["near-duplicate image"] = int(dup.sum())
    return keep, dict(counts)


def mask_words(title: str, words: list[str], mask: str = "[MASK]") -> str:
    """Replace every word in ``title`` that starts with one of ``words`` (case-insensitive, at a word
    boundary, so 'animal' masks 'Animals' and 'animalistic' but not 'mammal') by ``mask``."""
    if not words:
        return title
    pattern = r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\w*"
    return re.sub(pattern, mask, title, flags=re.IGNORECASE)


def stratified_split(labels: np.ndarray, shares: tuple[float, float, float], seed: int,
                     groups: list | None = None) -> np.ndarray:
    """(N,) int split id (0 train, 1 validation, 2 test) per item, stratified by label, fixed ``seed``.

    With ``groups`` (e.g. normalised titles) every group lands in one split, whole: items that share a
    caption never sit on both sides. A group is stratified by the label of its first item."""
    groups = list(range(len(labels))) if groups is None else list(groups)
    first = {}
    for n, g in enumerate(groups):
        first.setdefault(g, n)
    by_label = defaultdict(list)
    for g, n in first.items():
        by_label[labels[n]].append(g)
    rng = np.random.default_rng(seed)
    where = {}
    for label in sorted(by_label):
        members = sorted(by_label[label], key=str)
        order = rng.permutation(len(members))
        n_val, n_test = round(shares[1] * len(members)), round(shares[2] * len(members))
        for rank, k in enumerate(order):
            where[members[k]] = 2 if rank < n_test else 1 if rank < n_test + n_val else 0
    return np.array([where[g] for g in groups], int)


# ------------------------------------------------------------------------------------------ the pair set
PAIRS_ENV = "BIGMODEL_CH08_PAIRS"

# openclipart: the category is the top-level folder; a readable name for prompts, and the word stems that the
# masked titles hide (a stem masks every word starting with it). Two folders are not categories.
OPENCLIPART_NAMES = {"animals": "animal", "buildings": "building", "computer": "computer", "education": "education",
                     "food": "food", "geography": "geography", "office": "office", "people": "person",
                     "plants": "plant", "recreation": "recreation", "shapes": "shape",
                     "signs_and_symbols": "sign or symbol", "tools": "tool", "transportation": "transportation"}
OPENCLIPART_STEMS = {c: [w for w in n.split() if w != "or"] for c, n in OPENCLIPART_NAMES.items()} | {
    "people": ["people", "person"], "transportation": ["transport"], "geography": ["geograph"], "education": ["educat"]}
OPENCLIPART_HELD_OUT = ("animals", "buildings", "food", "transportation")

# Font Awesome: "Humanitarian" is a theme that spans every kind of picture (a third of all icons), not a kind of
# picture. The held-out categories were fixed before any model was scored on the icons.
FONTAWESOME_NOT_CATEGORIES = frozenset({"Humanitarian"})
FONTAWESOME_HELD_OUT = ("Buildings", "Food + Beverage", "Medical + Health", "Weather")


@dataclass(frozen=True)
class PairSource:
    """The chapter's image–text pairs and what the chapter needs to know about their categories."""
    name: str                          # "openclipart" or "fontawesome"
    root: Path                         # the SVG folder that item paths are relative to
    catalog: list[ClipartItem]
    dropped: dict                      # files left out while listing, and why
    category_name: dict[str, str]      # category -> readable name for prompts ("food and beverage")
    category_stems: dict[str, list[str]]   # category -> word stems that masked titles hide
    not_categories: frozenset          # categories that are not kinds of picture
    held_out: tuple[str, ...]          # categories kept out of contrastive training (zero-shot test)
    cache_name: str                    # sub-folder of the course cache for the rendered pixels
    note: str                          # what is used, and how to get the other source


def icon_caption(label: str, terms: tuple[str, ...], max_terms: int = 3) -> str:
    """An icon's caption: its label and up to ``max_terms`` of its search terms: 'Cat (feline, pet, kitten)'."""
    extra = [t for t in terms if t.lower() != label.lower()][:max_terms]
    return f"{label} ({', '.join(extra)})" if extra else label


def category_words(label: str) -> list[str]:
    """'Food + Beverage' -> ['food', 'beverage']; plural s dropped so a stem masks both ('Maps' -> 'map')."""
    words = [w for w in re.findall(r"[a-z]+", label.lower()) if w != "and"]
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def openclipart_root() -> Path:
    """The openclipart SVG folder; raises the assets' AssetError (with the apt command) where it is missing."""
    from bigmodel_helpers import assets
    return assets.package_dir(assets.get_asset("openclipart")) / "svg"


def openclipart_pairs(root: Path, note: str) -> PairSource:
    catalog, dropped = load_catalog(root)
    return PairSource("openclipart", Path(root), catalog, dropped, dict(OPENCLIPART_NAMES),
                      {c: list(v) for c, v in OPENCLIPART_STEMS.items()}, frozenset({"special", "unsorted"}),
                      OPENCLIPART_HELD_OUT, "clipart", note)


def fontawesome_pairs(note: str) -> PairSource:
    """The Font Awesome icons as a pair set: caption = label and search terms; category = the largest of the
    icon's curated categories (themes left out), the others kept in ``also``."""
    from bigmodel_helpers import assets
    root, icons = assets.load_fontawesome()
    size = Counter(c for i in icons for c in i.categories if c not in FONTAWESOME_NOT_CATEGORIES)
    catalog, dropped = [], Counter()
    for icon in icons:
        kinds = [c for c in icon.categories if c not in FONTAWESOME_NOT_CATEGORIES]
        if not kinds:
            dropped["only in a theme category"] += 1
            continue
        main = max(kinds, key=lambda c: (size[c], c))
        catalog.append(ClipartItem(icon.path, main, icon_caption(icon.label, icon.terms),
                                   tuple(c for c in icon.categories if c != main)))
    labels = sorted({c for i in icons for c in i.categories})
    return PairSource("fontawesome", Path(root), catalog, dict(dropped),
                      {c: c.lower().replace(" + ", " and ") for c in labels},
                      {c: category_words(c) for c in labels}, FONTAWESOME_NOT_CATEGORIES,
                      FONTAWESOME_HELD_OUT, "fontawesome-pairs", note)


def load_pairs(choice: str | None = None) -> PairSource:
    """The chapter's pair set, from what is installed: openclipart where it is, else the Font Awesome icons.

    ``choice`` (default: ``$BIGMODEL_CH08_PAIRS``, else "auto"): "auto", "openclipart" (raise where it is
    missing) or "fontawesome"."""
    from bigmodel_helpers import assets
    choice = (choice or os.environ.get(PAIRS_ENV) or "auto").strip().lower()
    if choice not in ("auto", "openclipart", "fontawesome"):
        raise ValueError(f"{PAIRS_ENV}={choice!r}: use auto, openclipart or fontawesome")
    if choice == "fontawesome":
        why = f"{PAIRS_ENV}=fontawesome asks for the icons"
    else:
        try:
            root = openclipart_root()
        except assets.AssetError as err:
            if choice == "openclipart":
                raise
            why = f"openclipart is not installed ({err})"
        else:
            return openclipart_pairs(root, "pairs: the openclipart drawings (Debian openclipart-svg) and their titles")
    return fontawesome_pairs(
        f"pairs: the Font Awesome icons (PyPI fontawesomefree), captions = label and search terms, categories = "
        f"their curated categories, because {why}. The figures and bands of this chapter were set on openclipart "
        f"(Debian/Ubuntu: `sudo apt-get install openclipart-svg`; elsewhere a Linux machine, WSL or Colab), so "
        f"expect different numbers, and section 8 tests on the icons not used as pairs (in domain).")


def pool_categories(source: PairSource, max_title_repeats: int, min_per_category: int
                    ) -> tuple[list[ClipartItem], list[str], dict]:
    """Items without a collection title and outside the non-categories -> ``(pool, categories, counts)``:
    the categories (sorted) with at least ``min_per_category`` pooled items, and the pooled count per category."""
    frequency = Counter(normalise_title(i.title) for i in source.catalog)
    pool = [i for i in source.catalog if frequency[normalise_title(i.title)] <= max_title_repeats
            and i.category not in source.not_categories]
    per_category = Counter(i.category for i in pool)
    categories = sorted(c for c, n in per_category.items() if n >= min_per_category)
    missing = set(categories) - set(source.category_name)
    if missing:
        raise ValueError(f"categories without a readable name: {sorted(missing)}")
    return pool, categories, dict(per_category)


def draw_per_category(pool: list[ClipartItem], categories: list[str], max_per_category: int | None,
                      seed: int) -> list[ClipartItem]:
    """Up to ``max_per_category`` items of each category (None: all), drawn with a fixed seed, in catalog order."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in categories:
        members = [i for i in pool if i.category == c]
        order = rng.permutation(len(members))[: max_per_category or len(members)]
        chosen += [members[k] for k in sorted(order)]
    return chosen
