"""Sizes per chapter: one small module each, ``bigmodel_helpers/sizes/<notebook stem>.py``.

Each module defines ``CPU`` (the learner's default: minutes on a 2-4 core laptop), one comment per value, and
``SMOKE`` and ``GPU`` as overrides of it (``SMOKE = CPU | {...}``), as nanoGPT's config files override only
what changes. A value that is the same in all three profiles does not belong here: it stays in the notebook,
where the learner sees it. ``bigmodel_helpers.profiles.sizes(stem, profile)`` reads these modules;
``tests/test_profiles.py`` checks that every profile has the same keys and that no key is equal everywhere.
"""
