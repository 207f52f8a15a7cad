"""One notebook run: ``run = start("ch04_tools_data", PROFILE)`` at the top, ``run.finish()`` at the end."""

from __future__ import annotations

import inspect
import os
import time
from pathlib import Path

from . import env, results
from .profiles import check_profile, sizes

CURRENT_PROFILE: str | None = None   # the profile of the latest run (exercises replays that profile's recording)


class ChapterRun:
    """Holds what every chapter needs: its sizes, the device, the thread policy, and ``record`` for headline
    numbers."""

    def __init__(self, chapter: str, profile: str, seed: int = 0, device: str = "auto", quiet: bool = False,
                 threads: int | None = None, threads_reason: str = ""):
        self.chapter = chapter
        self.profile = check_profile(profile)
        global CURRENT_PROFILE
        CURRENT_PROFILE = self.profile
        self.sizes = sizes(chapter, profile)
        self.seed = seed
        self.device, self.device_reason = env.pick_device(device)
        self.threads, self.threads_reason = env.apply_thread_policy(threads, threads_reason)
        env.seed_everything(seed)
        self._t0 = time.perf_counter()
        if not quiet:
            print(env.format_report(env.environment_report()))
            print(f"chapter {chapter} | profile {profile} | seed {seed} | device {self.device} "
                  f"({self.device_reason}) | {self.threads} CPU threads ({self.threads_reason})")

    def record(self, name: str, value) -> float:
        """Store a headline number in build/<profile>/results.json and return it (as a float)."""
        return results.record(self.chapter, self.profile, name, value)

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def fewer_threads(self, threads: int = 1):
        """``with run.fewer_threads(1): ...`` runs a block on fewer CPU threads and restores the chapter's
        thread policy afterwards (see ``bigmodel_helpers.env.fewer_threads``)."""
        return env.fewer_threads(threads)

    def workdir(self, *parts: str) -> Path:
        """A folder for this chapter's files in this profile, ``build/<profile>/<chapter>/<parts...>``
        (checkpoints, exported models), created when missing."""
        folder = results.build_dir(self.profile).joinpath(self.chapter, *parts)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @staticmethod
    def show(obj) -> None:
        """Print the source of a function, class or module the chapter teaches from the helper package, so
        the learner reads exactly the code that runs."""
        source = inspect.getsource(obj)
        try:
            from IPython.display import Markdown, display
            display(Markdown(f"```python\n{source}```"))
        except ImportError:   # outside Jupyter
            print(source)

    def finish(self) -> float:
        """Record the notebook's wall time as ``seconds`` and print where the results went."""
        seconds = self.record("seconds", round(self.elapsed(), 1))
        print(f"{self.chapter} finished in {seconds:.1f} s; results in {results.results_path(self.profile)}")
        return seconds


def start(chapter: str, profile: str, seed: int = 0, device: str = "auto", threads: int | None = None,
          threads_reason: str = "") -> ChapterRun:
    """Begin a chapter run. ``BIGMODEL_PROFILE`` (set by the Colab set-up cell on a GPU) overrides ``profile``.

    ``threads``: CPU threads for the whole chapter (default: one per available core; see
    ``bigmodel_helpers.env.apply_thread_policy``); give ``threads_reason`` when you choose it."""
    override = os.environ.get("BIGMODEL_PROFILE")
    if override and override != profile:
        print(f"profile {override!r} instead of {profile!r}: BIGMODEL_PROFILE is set (the Colab set-up cell "
              "sets it when a GPU is present)")
        profile = override
    return ChapterRun(chapter, profile, seed=seed, device=device, threads=threads, threads_reason=threads_reason)
