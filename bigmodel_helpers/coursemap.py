"""The course map: the chapter titles (one place), and the README table generated from the notebooks.

    python -m bigmodel_helpers.coursemap            # prints the markdown table for README.md

Per chapter: title with an "Open in Colab" badge, topics (the notebook's ``## 1. …`` section headings),
minutes per profile -- measured (``seconds`` in ``build/<profile>/results.json``, written by ``run.finish()``)
where a build exists, otherwise the notebook's own time table marked with † -- and what it needs.
Chapters of the outline that have no notebook yet are listed as planned.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import nbformat

from .colab import badge
from .profiles import PROFILES

# Chapter number -> (English title, Chinese title from the seed outline /work/shared/seed/course-outline.zh.md).
# The notebook title cell reads "# Chapter N · <English> — <Chinese>" (tests/test_notebook_shape.py checks
# the Chinese title character for character; the English wording is the author's).
CHAPTER_TITLES: dict[int, tuple[str, str]] = {
    1: ("Large models: overview and background", "第1章：大模型概述与背景"),
    2: ("Technical foundations", "第2章：大模型相关技术基础"),
    3: ("How pretrained models work", "第3章：预训练模型原理"),
    4: ("Development tools and environment", "第4章：大模型开发工具与环境"),
    5: ("Performance optimisation", "第5章：大模型性能优化"),
    6: ("Large models for text", "第6章：大模型在文本领域的应用"),
    7: ("Large models for images", "第7章：大模型在图像处理领域的应用"),
    8: ("Large models for multimodal data", "第8章：大模型在多模态数据的应用"),
    9: ("Large models in dialogue systems", "第9章：大模型在智能对话系统中的应用"),
    10: ("Future trends", "第10章：大模型的未来发展趋势"),
    11: ("Ethics and social impact", "第11章：大模型的伦理与社会影响"),
}
APPENDIX_TITLES: dict[str, tuple[str, str]] = {
    "A": ("Resources and tools", "附录A：大模型开发资源与工具"),
}

# "# Chapter 4 · Tools and data — 第4章：…" / "# Appendix A · Resources — 附录A：…"
TITLE = re.compile(r"^#\s+(?:Chapter\s+(\d+)|Appendix\s+([A-Z]))\s*·\s*(.+?)\s+—\s+(\S.*?)\s*$", re.MULTILINE)
SECTION_HEADING = re.compile(r"^##\s+\d+\.\s*(.+?)\s*$", re.MULTILINE)
TIME_ROW = re.compile(r"^\|\s*(smoke|cpu|gpu)\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|", re.MULTILINE)


def chapter_key(stem: str) -> int | str | None:
    """``ch04_tools_data`` -> 4, ``appA_resources`` -> "A", anything else -> None."""
    match = re.fullmatch(r"ch(\d{2})_[a-z0-9_]+", stem) or re.fullmatch(r"app([A-Z])_[a-z0-9_]+", stem)
    if not match:
        return None
    return int(match.group(1)) if stem.startswith("ch") else match.group(1)


def expected_titles(key: int | str) -> tuple[str, str] | None:
    return CHAPTER_TITLES.get(key) if isinstance(key, int) else APPENDIX_TITLES.get(key)


def time_table(markdown: str) -> dict[str, tuple[str, str]]:
    """Rows of a ``| profile | minutes | needs |`` table: profile -> (minutes text, needs text)."""
    return {profile: (minutes, needs) for profile, minutes, needs in TIME_ROW.findall(markdown)}


def measured_minutes(build_dir: Path) -> dict[str, dict[str, float]]:
    """profile -> {notebook stem -> minutes} from ``build/<profile>/results.json`` where present."""
    minutes = {}
    for profile in PROFILES:
        path = build_dir / profile / "results.json"
        if path.is_file():
            results = json.loads(path.read_text())
            minutes[profile] = {stem: values["seconds"] / 60 for stem, values in results.items()
                                if isinstance(values, dict) and "seconds" in values}
    return minutes


def course_map(chapters_dir: Path, build_dir: Path) -> str:
    """The markdown table for README.md."""
    measured = measured_minutes(build_dir)
    notebooks = {chapter_key(p.stem): p for p in sorted(chapters_dir.glob("*.ipynb")) if chapter_key(p.stem)}
    keys = list(CHAPTER_TITLES) + list(APPENDIX_TITLES)
    lines = ["| Chapter | Topics | " + " | ".join(f"{p} (min)" for p in PROFILES) + " | Needs | Colab |",
             "|---|---|" + "---|" * len(PROFILES) + "---|---|"]
    estimated = False
    for key in keys:
        english, chinese = expected_titles(key)
        label = f"{key}" if isinstance(key, int) else f"App. {key}"
        path = notebooks.get(key)
        if path is None:
            lines.append(f"| {label}. {english} — {chinese} | (planned) |" + " — |" * len(PROFILES) + " | |")
            continue
        notebook = nbformat.read(path, as_version=4)
        markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        topics = " · ".join(SECTION_HEADING.findall(markdown)) or "—"
        table = time_table(notebook.cells[0].source if notebook.cells else "")
        cells = []
        for profile in PROFILES:
            if path.stem in measured.get(profile, {}):
                cells.append(f"{measured[profile][path.stem]:.1f}")
            elif profile in table:
                cells.append(f"{table[profile][0]}†")
                estimated = True
            else:
                cells.append("—")
        needs = " / ".join(dict.fromkeys(n for _, n in table.values() if n)) or "—"
        title = TITLE.search(notebook.cells[0].source if notebook.cells else "")
        english = title.group(3) if title else english   # the author's English wording
        link = f"[{label}. {english} — {chinese}](chapters/{path.name})"
        lines.append(f"| {link} | {topics} | " + " | ".join(cells) + f" | {needs} | {badge(f'chapters/{path.name}')} |")
    if estimated:
        lines += ["", "† from the notebook's own time table; not measured in this build (`make course`)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the course-map markdown table for README.md.")
    parser.add_argument("--chapters", type=Path, default=Path("chapters"), help="folder of chapter notebooks")
    parser.add_argument("--build", type=Path, default=Path("build"), help="folder with <profile>/results.json")
    args = parser.parse_args(argv)
    if not args.chapters.is_dir():
        parser.error(f"{args.chapters} is not a folder; run from the repository root or pass --chapters.")
    print(course_map(args.chapters, args.build))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
