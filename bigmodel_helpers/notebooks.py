"""Execute chapter notebooks with papermill, the way `make course` and the tests do.

    python -m bigmodel_helpers.notebooks --profile smoke                  # every chapter
    python -m bigmodel_helpers.notebooks --profile cpu chapters/ch04_tools_data.ipynb
    python -m bigmodel_helpers.notebooks --profile cpu ch03 ch06           # stems or unique prefixes

Each run writes the executed copy to ``build/<profile>/executed/`` and the chapter's headline numbers to
``build/<profile>/results.json`` (through ``run.record`` inside the notebook).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Type

from .profiles import check_profile
from .results import build_dir, project_root


def chapter_notebooks(root: Path | None = None) -> list[Path]:
    chapters = (root or project_root()) / "chapters"
    return sorted(p for p in chapters.glob("*.ipynb") if p.stem[:2] in ("ch", "ap"))


class UnknownChapter(ValueError):
    """A chapter name that matches no notebook, or more than one."""


def resolve_chapters(names, root: Path | None = None) -> list[Path]:
    """The notebooks that ``names`` mean, in order, each once.

    A name is a notebook file that exists (``chapters/ch03_pretraining.ipynb``, or any other path), a chapter
    stem (``ch03_pretraining``, with or without ``chapters/`` and ``.ipynb``) or the start of exactly one
    stem (``ch03``). A name that matches no chapter, or several, raises ``UnknownChapter`` listing the chapters.
    """
    chapters = chapter_notebooks(root)
    stems = {p.stem: p for p in chapters}
    valid = ", ".join(stems) or "(none: no chapters/*.ipynb found)"
    found: list[Path] = []
    for name in names:
        name = str(name).strip()
        if not name:
            continue
        path = Path(name)
        if path.suffix == ".ipynb" and path.is_file():
            found.append(path)
            continue
        stem = path.name.removesuffix(".ipynb")
        if stem in stems:
            found.append(stems[stem])
            continue
        matches = [p for s, p in stems.items() if s.startswith(stem)]
        if len(matches) == 1:
            found.append(matches[0])
        elif matches:
            raise UnknownChapter(f"{name!r} matches {len(matches)} chapters ({', '.join(p.stem for p in matches)}); "
                                 "give more of the name.")
        else:
            raise UnknownChapter(f"No chapter matches {name!r}. Valid chapters: {valid} "
                                 "(a stem, a unique prefix such as ch03, or a notebook path).")
    unique: list[Path] = []
    for p in found:
        if p.resolve() not in {q.resolve() for q in unique}:
            unique.append(p)
    return unique


# A cell that runs longer than this is stuck (smoke chapters take under two minutes in all).
CELL_TIMEOUT_S = {"smoke": 300, "cpu": 3600, "gpu": 3600}


# Why the kernel client below exists: pyzmq's asyncio poll can miss the wake-up of a message that is
# already waiting on the socket; it then finds it only when the poll's own timeout fires. nbclient waits for
# a cell's reply with one poll as long as the cell timeout, so a missed wake-up became a silent 300 s stall
# (seen in CI: a 10 s chapter took 311 s, the machine idle). Short polls bound such a stall to one slice.
POLL_SLICE_S = 0.1


class _SlicedPollChannel(AsyncZMQSocketChannel):
    """A kernel channel whose long waits are a series of short polls (see POLL_SLICE_S)."""

    async def get_msg(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=min(POLL_SLICE_S, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SlicedPollKernelClient(AsyncKernelClient):
    shell_channel_class = Type(_SlicedPollChannel)
    iopub_channel_class = Type(_SlicedPollChannel)
    stdin_channel_class = Type(_SlicedPollChannel)
    control_channel_class = Type(_SlicedPollChannel)


class SlicedPollKernelManager(AsyncKernelManager):
    client_class = DottedObjectName("bigmodel_helpers.notebooks.SlicedPollKernelClient")
    client_factory = Type(SlicedPollKernelClient, klass=AsyncKernelClient)


def client_options() -> dict:
    """Extra papermill/nbclient options every course run uses."""
    return {"kernel_manager_class": SlicedPollKernelManager}


def execute(notebook: Path, profile: str, log_output: bool = False) -> tuple[Path, float]:
    """Run one notebook top to bottom in a fresh kernel; return (executed copy, seconds).

    Figures use the kernel's own inline backend, so they are stored in the executed copy.
    """
    import papermill

    check_profile(profile)
    notebook = Path(notebook).resolve()
    out = build_dir(profile) / "executed" / notebook.name
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    papermill.execute_notebook(str(notebook), str(out), parameters={"PROFILE": profile},
                               cwd=str(notebook.parent), kernel_name="python3", progress_bar=False,
                               log_output=log_output, execution_timeout=CELL_TIMEOUT_S[profile],
                               **client_options())
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bigmodel_helpers.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", metavar="chapter",
                        help="notebook paths, chapter stems or unique prefixes (ch03); default: every chapter")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--log-output", action="store_true", help="stream cell outputs while running")
    args = parser.parse_args(argv)
    try:
        chosen = resolve_chapters(args.notebooks) if args.notebooks else chapter_notebooks()
    except UnknownChapter as err:
        parser.error(str(err))
    failures = []
    for notebook in chosen:
        print(f"==> {notebook.name} ({args.profile})", flush=True)
        try:
            out, seconds = execute(notebook, args.profile, log_output=args.log_output)
            print(f"    done in {seconds:.0f} s -> {out}", flush=True)
        except Exception as err:  # noqa: BLE001 -- keep going: report every broken chapter at the end
            failures.append(notebook.name)
            print(f"    FAILED: {str(err).splitlines()[-1] if str(err) else type(err).__name__}", flush=True)
    if failures:
        print("failed:", ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
