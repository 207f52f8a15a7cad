"""Chapter 8's clip-art helpers: listing, safe titles, rendering with a cache, perceptual hash, cleaning, split."""

from collections import Counter

import numpy as np
import pytest

from bigmodel_helpers import clipart

SVG = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:cc="http://creativecommons.org/ns#"
 width="{w}" height="{h}" viewBox="0 0 {w} {h}">
<metadata><rdf:RDF><cc:Work><dc:title>{title}</dc:title></cc:Work></rdf:RDF></metadata>
<rect x="0" y="0" width="{w}" height="{h}" fill="{fill}"/></svg>"""


def svg(title="Red square", w=100, h=100, fill="#ff0000"):
    return SVG.format(title=title, w=w, h=h, fill=fill).encode()


def test_titles_are_read_and_entity_tricks_are_refused():
    assert clipart.parse_title(svg("  Gatto \n Cat ")) == "Gatto Cat"
    assert clipart.parse_title(svg("")) is None
    laughs = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><svg>&b;</svg>'
    with pytest.raises(ValueError):
        clipart.parse_title(laughs)


def test_symlinks_and_byte_identical_copies_are_listed_once_with_the_top_folder_as_category(tmp_path):
    (tmp_path / "animals" / "amphibian").mkdir(parents=True)
    (tmp_path / "food").mkdir()
    (tmp_path / "animals" / "frog.svg").write_bytes(svg("Frog"))
    (tmp_path / "animals" / "amphibian" / "frog.svg").symlink_to(tmp_path / "animals" / "frog.svg")
    (tmp_path / "food" / "copy_of_frog.svg").write_bytes(svg("Frog"))
    (tmp_path / "food" / "pie.svg").write_bytes(svg("Cherry Pie", fill="#aa0000"))
    (tmp_path / "food" / "broken.svg").write_bytes(b"<svg><unclosed></svg>")
    items, counts = clipart.load_catalog(tmp_path)
    assert sorted((i.category, i.title) for i in items) == [("animals", "Frog"), ("food", "Cherry Pie")]
    assert counts["symlink to a file already listed"] == 1 and counts["byte-identical copy"] == 1
    assert sum(v for k, v in counts.items() if k.startswith("unparsable")) == 1


def test_render_keeps_the_aspect_ratio_on_white():
    pytest.importorskip("cairosvg")
    square = clipart.render(svg(), 32)
    assert square.shape == (32, 32, 3) and square.dtype == np.uint8
    assert tuple(square[16, 16]) == (255, 0, 0)
    wide = clipart.render(svg(w=200, h=100), 32)
    assert tuple(wide[1, 16]) == (255, 255, 255) and tuple(wide[16, 16]) == (255, 0, 0)


def test_render_many_writes_the_cache_and_reads_it_back(tmp_path):
    pytest.importorskip("cairosvg")
    (tmp_path / "svg").mkdir()
    (tmp_path / "svg" / "a.svg").write_bytes(svg())
    (tmp_path / "svg" / "bad.svg").write_bytes(b"not xml")
    items = [clipart.ClipartItem("a.svg", "x", "Red square"), clipart.ClipartItem("bad.svg", "x", "bad")]
    first, ok, info = clipart.render_many(items, tmp_path / "svg", 16, cache=tmp_path / "cache", progress=False)
    assert not info["from_cache"] and ok.tolist() == [True, False] and info["failed"] == 1
    assert (first[1] == 255).all()   # a failed render stays white
    again, ok2, info2 = clipart.render_many(items, tmp_path / "svg", 16, cache=tmp_path / "cache", progress=False)
    assert info2["from_cache"] and np.array_equal(first, again) and np.array_equal(ok, ok2)
    assert clipart.list_digest(items, 16) != clipart.list_digest(items, 32)


def test_dhash_finds_near_copies_and_separates_different_drawings():
    yy, xx = np.mgrid[0:64, 0:64]
    pattern = 127 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    base = np.repeat(pattern[..., None], 3, axis=2).astype(np.uint8)
    recoloured = (0.8 * base + 30).astype(np.uint8)             # same drawing, lighter: same order of blocks
    other = np.repeat((127 + 100 * np.cos(xx / 3.0 + yy / 4.0))[..., None], 3, axis=2).astype(np.uint8)
    h = clipart.dhash(np.stack([base, recoloured, other]))
    assert (h[0] != h[1]).sum() <= 4 < (h[0] != h[2]).sum()
    assert clipart.near_duplicates(h, 4).tolist() == [False, True, False]


def test_clean_drops_collection_titles_and_near_duplicates_but_keeps_a_few_repeated_titles():
    titles = ["Flat Icon Collection"] * 4 + ["card", "card", "Red car", "Red_Car "]
    items = [clipart.ClipartItem(f"{n}.svg", "x", t) for n, t in enumerate(titles)]
    hashes = np.zeros((8, 64), bool)
    for n in range(8):
        hashes[n, n * 8:(n + 1) * 8] = True           # all far apart ...
    hashes[7] = hashes[6]                              # ... except item 7, a copy of item 6
    keep, counts = clipart.clean(items, hashes, np.ones(8, bool), max_title_repeats=3, max_distance=4)
    assert keep.tolist() == [False] * 4 + [True, True, True, False]
    assert counts["collection title"] == 4 and counts["near-duplicate image"] == 1


def test_mask_words_masks_word_starts_only():
    assert clipart.mask_words("Animals at the zoo, an animal", ["animal"]) == "[MASK] at the zoo, an [MASK]"
    assert clipart.mask_words("a small mammal", ["animal"]) == "a small mammal"
    assert clipart.mask_words("Road sign", ["sign", "symbol"], "<m>") == "Road <m>"


def test_split_is_seeded_stratified_and_keeps_groups_together():
    labels = np.repeat([0, 1], 50)
    groups = [f"t{n // 2}" for n in range(100)]         # pairs of items share a title
    a = clipart.stratified_split(labels, (0.6, 0.2, 0.2), seed=0, groups=groups)
    assert np.array_equal(a, clipart.stratified_split(labels, (0.6, 0.2, 0.2), seed=0, groups=groups))
    assert not np.array_equal(a, clipart.stratified_split(labels, (0.6, 0.2, 0.2), seed=1, groups=groups))
    assert all(a[n] == a[n + 1] for n in range(0, 100, 2))
    for label in (0, 1):
        assert set(a[labels == label]) == {0, 1, 2}
    assert abs((a == 2).mean() - 0.2) < 0.05


def test_icon_captions_and_category_words():
    assert clipart.icon_caption("Cat", ("cat", "feline", "pet", "kitten", "meow")) == "Cat (feline, pet, kitten)"
    assert clipart.icon_caption("Zero", ()) == "Zero"
    assert clipart.category_words("Food + Beverage") == ["food", "beverage"]
    assert clipart.category_words("Maps") == ["map"] and clipart.category_words("Business") == ["business"]


def test_without_openclipart_the_data_step_yields_icon_pairs_with_a_valid_split(monkeypatch):
    """openclipart made unavailable (its asset lookup raises, as on macOS): the pairs are the Font Awesome icons,
    and the chapter's data step (pool, categories, draw, clean, grouped split, held-out categories) works on them."""
    from bigmodel_helpers import assets
    try:
        assets.load_fontawesome()
    except assets.AssetError:
        pytest.skip("fontawesomefree is not installed")
    real = assets.package_dir

    def lookup(asset):
        if asset.name == "openclipart":
            raise assets.AssetError("Asset 'openclipart' is not installed (test): sudo apt-get install openclipart-svg")
        return real(asset)

    monkeypatch.setattr(assets, "package_dir", lookup)
    monkeypatch.delenv(clipart.PAIRS_ENV, raising=False)
    with pytest.raises(assets.AssetError):
        clipart.load_pairs("openclipart")
    source = clipart.load_pairs()
    assert source.name == "fontawesome" and "apt-get install openclipart-svg" in source.note
    assert "not installed" in source.note
    pool, categories, _ = clipart.pool_categories(source, max_title_repeats=3, min_per_category=30)
    assert len(categories) >= 8 and set(source.held_out) <= set(categories)
    assert not set(categories) & source.not_categories
    chosen = clipart.draw_per_category(pool, categories, 16, seed=0)
    assert chosen == clipart.draw_per_category(pool, categories, 16, seed=0)
    assert all(n == 16 for n in Counter(i.category for i in chosen).values())
    assert all((source.root / i.path).is_file() for i in chosen)
    titles = [clipart.normalise_title(i.title) for i in chosen]
    hashes = np.random.default_rng(0).random((len(chosen), 64)) < 0.5      # distinct: no image is dropped here
    keep, _ = clipart.clean(chosen, hashes, np.ones(len(chosen), bool), 3, 4)
    kept = [i for i, k in zip(chosen, keep) if k]
    labels = np.array([categories.index(i.category) for i in kept])
    groups = [clipart.normalise_title(i.title) for i, k in zip(chosen, keep) if k]
    split = clipart.stratified_split(labels, (0.6, 0.2, 0.2), seed=0, groups=groups)
    assert not {g for g, s in zip(groups, split) if s == 0} & {g for g, s in zip(groups, split) if s == 2}
    for k, c in enumerate(categories):
        assert set(split[labels == k]) == {0, 1, 2}, c
    # held-out categories: their items, and items listed in them as another category, stay out of training
    held = set(source.held_out)
    unseen = np.array([i.category in held or bool(held & set(i.also)) for i in kept])
    assert 0 < unseen.sum() < len(kept) and len(titles) == len(chosen)


def test_the_environment_variable_chooses_the_pair_set(monkeypatch):
    monkeypatch.setenv(clipart.PAIRS_ENV, "nonsense")
    with pytest.raises(ValueError):
        clipart.load_pairs()
    monkeypatch.setenv(clipart.PAIRS_ENV, "fontawesome")
    from bigmodel_helpers import assets
    try:
        source = clipart.load_pairs()
    except assets.AssetError:
        pytest.skip("fontawesomefree is not installed")
    assert source.name == "fontawesome" and clipart.PAIRS_ENV in source.note
