"""Helpers used by chapter 10 (scaling laws, MoE, PEFT): the Shakespeare play split and plain text."""

import random

import pytest

from bigmodel_helpers.assets.datasets import Play
from bigmodel_helpers.textdata import play_plain_text, shakespeare_split


def _plays(n=10):
    return [Play(title=f"Play {i}", genre="comedies", text=f"# Play {i}\n\n**A**  \nline {i}  \n") for i in range(n)]


def test_split_is_chapter_3s_random_sample_of_titles_and_disjoint():
    plays = _plays(12)
    train, val = shakespeare_split(plays, n_val=4, seed=0)
    expected = set(random.Random(0).sample([p.title for p in plays], 4))   # what chapter 3 does inline
    assert {p.title for p in val} == expected
    assert len(train) == 8 and not {p.title for p in train} & expected
    assert [p.title for p in train] == [p.title for p in plays if p.title not in expected]   # order kept


def test_split_depends_on_the_seed_and_rejects_bad_sizes():
    plays = _plays(12)
    splits = {tuple(p.title for p in shakespeare_split(plays, 4, seed)[1]) for seed in range(5)}
    assert len(splits) > 1
    for bad in (0, 12, 2.5):
        with pytest.raises(ValueError, match="n_val"):
            shakespeare_split(plays, bad)
    with pytest.raises(ValueError, match="unique"):
        shakespeare_split(plays + plays[:1])


def test_plain_text_turns_markdown_speakers_and_directions_into_text():
    md = "# Hamlet\n\n## ACT I\n\n**HAMLET**  \nTo be, or not to be  \n_Exit_\n\n\n\n**OPHELIA**  \nMy lord\n"
    assert play_plain_text(md) == "ACT I\n\nHAMLET:\nTo be, or not to be\nExit\n\nOPHELIA:\nMy lord\n"
