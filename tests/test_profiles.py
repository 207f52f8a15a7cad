"""Sizes per chapter: every profile has the same keys, nothing equal everywhere hides in a sizes file."""

import pytest

from bigmodel_helpers import profiles
from bigmodel_helpers.notebooks import chapter_notebooks

CHAPTERS = profiles.chapters_with_sizes()


def test_every_chapter_notebook_has_a_sizes_module():
    stems = {p.stem for p in chapter_notebooks()}
    assert stems and stems <= set(CHAPTERS), f"no sizes module for {sorted(stems - set(CHAPTERS))}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_profile_has_the_same_keys(chapter):
    table = profiles.size_table(chapter)
    keys = {profile: set(values) for profile, values in table.items()}
    assert keys["smoke"] == keys["cpu"] == keys["gpu"], keys


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_value_equal_in_every_profile_stays_in_the_notebook(chapter):
    table = profiles.size_table(chapter)
    same = [k for k in table["cpu"] if table["smoke"][k] == table["cpu"][k] == table["gpu"][k]]
    assert not same, f"{chapter}: {same} are equal in every profile; define them in the notebook instead"


def test_sizes_reads_the_profile_and_says_what_is_valid():
    assert profiles.sizes("ch01_overview", "smoke").matmul_size < profiles.sizes("ch01_overview", "gpu").matmul_size
    with pytest.raises(ValueError, match="Valid profiles: smoke, cpu, gpu"):
        profiles.sizes("ch01_overview", "laptop")
    with pytest.raises(KeyError, match="Known chapters: .*ch01_overview.*add bigmodel_helpers/sizes/ch77_x.py"):
        profiles.sizes("ch77_x", "cpu")
