"""textdata: the cached IMDb splits, and the next-token windows chapters 2, 3 and 6 train on."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import torch

from bigmodel_helpers import assets, textdata

ROWS = 1000   # a few thousand reviews keep each split computation well under a second


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty course cache that still holds the IMDb wheel (linked, not copied)."""
    wheel = assets.imdb_source()
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / wheel.name).symlink_to(wheel)
    monkeypatch.setenv("BIGMODEL_CACHE", str(tmp_path))
    return tmp_path


def _cache_files(cache):
    return sorted((cache / "imdb").glob("splits-*.json"))


def _assert_same(a, b):
    for name in ("train", "val", "test"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert (a.raw_rows, a.duplicates_removed) == (b.raw_rows, b.duplicates_removed)


def _forbid_loading(monkeypatch):
    def fail():
        raise AssertionError("the CSV was read again: the cache was missed")
    monkeypatch.setattr(textdata, "load_imdb", fail)


def test_second_call_is_a_silent_hit_with_identical_frames(cache, monkeypatch, capsys):
    first = textdata.imdb_splits(seed=0, rows=ROWS)
    assert len(_cache_files(cache)) == 1
    _forbid_loading(monkeypatch)
    second = textdata.imdb_splits(seed=0, rows=ROWS)
    _assert_same(first, second)
    assert capsys.readouterr().out == ""
    monkeypatch.undo()
    _assert_same(second, textdata.imdb_splits(seed=0, rows=ROWS, cache=False))   # the same as computing afresh


@pytest.mark.parametrize("change", ["seed", "rows", "version", "source"])
def test_a_changed_key_misses(cache, monkeypatch, change):
    textdata.imdb_splits(seed=0, rows=ROWS)
    calls = []
    real = textdata.load_imdb
    monkeypatch.setattr(textdata, "load_imdb", lambda: calls.append(1) or real())
    kwargs = {"seed": 0, "rows": ROWS}
    if change == "seed":
        kwargs["seed"] = 1
    elif change == "rows":
        kwargs["rows"] = ROWS + 100
    elif change == "version":
        monkeypatch.setattr(textdata, "CLEANING_VERSION", textdata.CLEANING_VERSION + 1)
    else:   # another copy of the source file (a new download): another size or modification time
        wheel = cache / "wheels" / assets.imdb_source().name
        real_wheel = wheel.resolve()
        wheel.unlink()
        wheel.write_bytes(real_wheel.read_bytes())
    splits = textdata.imdb_splits(**kwargs)
    assert calls == [1]
    assert len(_cache_files(cache)) == 2
    assert splits.raw_rows == kwargs["rows"]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong key", "bad labels"])
def test_a_damaged_cache_file_is_ignored_and_rewritten(cache, damage):
    good = textdata.imdb_splits(seed=0, rows=ROWS)
    [path] = _cache_files(cache)
    text = path.read_text(encoding="utf-8")
    if damage == "truncated":
        path.write_text(text[: len(text) // 2], encoding="utf-8")
    elif damage == "garbage":
        path.write_bytes(b"\xff\xfe not json")
    else:
        data = json.loads(text)
        if damage == "wrong key":
            data["key"]["seed"] = 99
        else:
            data["splits"]["test"]["label"][0] = "positive"
        path.write_text(json.dumps(data), encoding="utf-8")
    again = textdata.imdb_splits(seed=0, rows=ROWS)
    _assert_same(good, again)
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), "the damaged file was not rewritten"
    assert not list((cache / "imdb").glob(".splits-*")), "a temporary file was left behind"


def test_too_few_rows_is_refused_before_reading_anything():
    with pytest.raises(ValueError, match="at least 100"):
        textdata.imdb_splits(rows=10)


# ------------------------------------------------------------------------------------ next-token windows
def test_windows_are_inputs_and_targets_shifted_by_one():
    ids = torch.arange(20)
    windows = textdata.NextTokenWindows(ids, block_size=4, stride=3)
    assert len(windows) == (20 - 4 - 1) // 3 + 1 == 6
    for i in range(len(windows)):
        x, y = windows[i]
        s = 3 * i
        assert x.tolist() == list(range(s, s + 4)) and y.tolist() == list(range(s + 1, s + 5))
    assert windows[-1][1][-1] <= 19                      # the last target is still inside the text
    assert len(textdata.NextTokenWindows(ids, 4)) == 16   # stride 1: every window
    assert len(textdata.NextTokenWindows(ids, 19)) == 1   # exactly block_size + 1 tokens: one window
    with pytest.raises(IndexError, match="6 windows"):
        windows[6]


def test_windows_accept_lists_and_numpy_and_give_int64():
    for ids in ([3, 1, 4, 1, 5, 9], np.array([3, 1, 4, 1, 5, 9], dtype=np.int32), torch.tensor([3, 1, 4, 1, 5, 9])):
        x, y = textdata.NextTokenWindows(ids, 2)[1]
        assert x.dtype == torch.int64 and x.tolist() == [1, 4] and y.tolist() == [4, 1]


def test_windows_batch_through_a_dataloader():
    windows = textdata.NextTokenWindows(torch.arange(100), 8, stride=8)
    x, y = next(iter(torch.utils.data.DataLoader(windows, batch_size=4)))
    assert x.shape == y.shape == (4, 8) and torch.equal(x[:, 1:], y[:, :-1])


@pytest.mark.parametrize("ids, kwargs, error, message", [
    (torch.arange(12).view(3, 4), {"block_size": 2}, ValueError, r"1-D .* shape \(3, 4\)"),
    (torch.arange(5), {"block_size": 5}, ValueError, r"has 5 tokens.*at least block_size \+ 1 = 6 tokens"),
    ([], {"block_size": 1}, ValueError, r"has 0 tokens.*at least block_size \+ 1 = 2"),
    (torch.rand(10), {"block_size": 2}, TypeError, "integer token ids, got dtype torch.float32"),
    (torch.arange(10), {"block_size": 2, "stride": 0}, ValueError, "stride must be at least 1, got 0"),
    (torch.arange(10), {"block_size": 0}, ValueError, "block_size must be at least 1"),
    (torch.arange(10), {"block_size": 2.5}, TypeError, "block_size must be an integer"),
])
def test_windows_say_what_is_wrong_with_their_input(ids, kwargs, error, message):
    with pytest.raises(error, match=message):
        textdata.NextTokenWindows(ids, **kwargs)


def test_an_id_outside_the_vocabulary_is_caught_at_construction():
    ids = torch.tensor([0, 1, 2, 64, 3, 65, 4])
    with pytest.raises(ValueError, match=r"token id 65 is outside the vocabulary \[0, 65\) \(first bad id at "
                                         r"position 5\)"):
        textdata.NextTokenWindows(ids, 2, vocab_size=65)
    with pytest.raises(ValueError, match=r"token id -1 is outside"):
        textdata.NextTokenWindows(torch.tensor([0, -1, 2, 3]), 2, vocab_size=65)
    assert len(textdata.NextTokenWindows(ids, 2, vocab_size=66)) == 5


def test_spread_windows_are_a_fixed_non_overlapping_set_across_the_text():
    ids = torch.arange(1000)
    val = textdata.spread_windows(ids, block_size=16, count=10)
    assert isinstance(val, torch.utils.data.Subset) and len(val) == 10
    starts = [int(val[i][0][0]) for i in range(len(val))]
    stride = (1000 - 16 - 1) // 10
    assert starts == [i * stride for i in range(10)]
    assert all(b - a >= 16 for a, b in itertools.pairwise(starts)), "windows overlap"
    assert starts[-1] > 1000 * 0.8, "the windows do not reach the end of the text"
    # Too short for count windows of block_size: as many non-overlapping ones as fit.
    short = textdata.spread_windows(torch.arange(50), block_size=16, count=10)
    assert [int(short[i][0][0]) for i in range(len(short))] == [0, 16, 32]
    with pytest.raises(ValueError, match="count must be at least 1"):
        textdata.spread_windows(ids, 16, 0)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        textdata.spread_windows(ids, 16, 4, vocab_size=500)
