"""Every chapter notebook has the shape CONTRIBUTING.md fixes (parametrised over what exists in chapters/).

``shape_problems`` lists every deviation at once, so an author fixes them in one go; the fixture tests
prove it accepts a well-formed notebook and catches each defect of a deliberately broken one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from bigmodel_helpers.colab import SETUP_CELL, badge
from bigmodel_helpers.coursemap import TITLE, chapter_key, expected_titles, time_table

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
CHECK_CALL = re.compile(r"\bcheck_(function|value)\s*\(")
ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])(/(home|Users|root|work|tmp|mnt|opt|srv|data|content/drive)/|[A-Za-z]:\\\\)")
SECRET = re.compile(r"(hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}"
                    r"|xox[abp]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY"
                    r"|\b(api_?key|apikey|password|passwd|secret|access_token|auth_token|hf_token)\s*=\s*[\"'][^\"']{6,})",
                    re.IGNORECASE)


def _python(source: str) -> ast.Module | None:
    """Parse a code cell (IPython magics turned into Python first); None if it is not valid Python."""
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def _is_call_to(node: ast.AST, dotted: str) -> bool:
    return isinstance(node, ast.Call) and ast.unparse(node.func) in (dotted, dotted.rsplit(".", 1)[-1])


def shape_problems(path: Path, titles=expected_titles) -> list[str]:
    """Everything wrong with the notebook at ``path`` (an empty list means it has the course shape)."""
    notebook = nbformat.read(path, as_version=4)
    cells, problems = notebook.cells, []
    code = [c for c in cells if c.cell_type == "code"]
    markdown = "\n\n".join(c.source for c in cells if c.cell_type == "markdown")
    key = chapter_key(path.stem)
    if key is None:
        return [f"file name {path.name!r} is not chNN_<topic>.ipynb or appX_<topic>.ipynb (lower case, underscores)"]

    # 1. title cell: English + Chinese title, badge, learning goals, time table, glossary link
    first = cells[0].source if cells and cells[0].cell_type == "markdown" else ""
    title = TITLE.search(first.split("\n", 1)[0]) if first else None
    wanted = titles(key)
    if not title:
        problems.append("first cell must be markdown starting '# Chapter N · <English title> — 第N章：<Chinese title>'")
    else:
        number = title.group(1) or title.group(2)
        if str(number) != str(key):
            problems.append(f"title says chapter {number}, the file name says {key}")
        if wanted and title.group(4) != wanted[1]:
            problems.append(f"Chinese title must be {wanted[1]!r} (from the seed outline), found {title.group(4)!r}")
        if not re.search(r"[A-Za-z]{3}", title.group(3)):
            problems.append("the title needs an English title before ' — '")
    if wanted is None:
        problems.append(f"chapter {key} is not in bigmodel_helpers.coursemap's title table")
    relative = path.resolve().relative_to(ROOT).as_posix() if path.resolve().is_relative_to(ROOT) else path.name
    if badge(relative) not in first:
        problems.append(f"title cell lacks the Colab badge: bigmodel_helpers.colab.badge({relative!r})")
    goals = re.search(r"^## Learning goals\s*\n((?:\s*[-*] .+\n?)+)", first, re.MULTILINE)
    if not goals:
        problems.append("title cell needs '## Learning goals' followed by bullet points")
    if "## Time and hardware" not in first or not re.search(r"\|\s*profile\s*\|\s*minutes\s*\|\s*needs\s*\|", first):
        problems.append("title cell needs '## Time and hardware' with a '| profile | minutes | needs |' table")
    elif set(time_table(first)) != {"smoke", "cpu", "gpu"}:
        problems.append("the time table needs one row for each profile: smoke, cpu, gpu")
    if not re.search(r"\]\((\.\./chapters/|\./)?glossary\.md(#[\w-]+)?\)", markdown):
        problems.append("no link to the glossary, e.g. [glossary](glossary.md#ch01)")

    # 2.-4. set-up, parameters, start
    if not code or code[0].source != SETUP_CELL:
        problems.append("the first code cell must be exactly bigmodel_helpers.colab.SETUP_CELL")
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    if len(parameters) != 1:
        problems.append(f"need exactly one code cell tagged 'parameters' (found {len(parameters)})")
    else:
        tree = _python(parameters[0].source)
        assigned = {t.id: n.value for n in (tree.body if tree else []) if isinstance(n, ast.Assign)
                    for t in n.targets if isinstance(t, ast.Name)}
        if not (isinstance(assigned.get("PROFILE"), ast.Constant) and assigned["PROFILE"].value == "cpu"):
            problems.append('the parameters cell must set PROFILE = "cpu"')
        if "SEED" not in assigned:
            problems.append("the parameters cell must set SEED")
    if not any(re.search(rf"""\bstart\(\s*["']{re.escape(path.stem)}["']""", c.source) for c in code):
        problems.append(f'no start("{path.stem}", PROFILE, seed=SEED) call with this notebook\'s own name')
    if not code or code[-1].source.strip() != "run.finish()":
        problems.append("the last code cell must be run.finish()")

    # 5.-8. sections, exercises with checks, summary
    headings = re.findall(r"^(#{1,3}) (.+?)\s*$", markdown, re.MULTILINE)
    h2 = [text for level, text in headings if level == "##"]
    if not any(re.match(r"\d+\. \S", text) for text in h2):
        problems.append("no numbered sections '## 1. …'")
    if "Exercises" not in h2:
        problems.append("no '## Exercises' section")
    if "Summary" not in h2:
        problems.append("no '## Summary' section")
    elif "Exercises" in h2 and h2.index("Summary") < h2.index("Exercises"):
        problems.append("'## Summary' must come after '## Exercises'")
    exercises = re.findall(r"^#{3,4} Exercise (\d+)\b", markdown, re.MULTILINE)
    if len(exercises) < 3:
        problems.append(f"need at least 3 exercises ('### Exercise N · …' headings), found {len(exercises)}")
    elif exercises != [str(i) for i in range(1, len(exercises) + 1)]:
        problems.append(f"exercises must be numbered 1, 2, 3, … in order (found {', '.join(exercises)})")
    if not any(CHECK_CALL.search(c.source) for c in code):
        problems.append("no exercise is checked with bigmodel_helpers.exercises (check_function / check_value)")
    if "from bigmodel_helpers" not in "".join(c.source for c in code) or not re.search(
            r"(from bigmodel_helpers\.exercises import|from bigmodel_helpers import .*exercises|"
            r"import bigmodel_helpers\.exercises)", "\n".join(c.source for c in code)):
        problems.append("the checks must come from bigmodel_helpers.exercises (import it)")
    for index, cell in enumerate(cells):
        if "solution" not in cell.metadata.get("tags", []):
            continue
        following = cells[index + 1] if index + 1 < len(cells) else None
        if cell.cell_type != "code":
            problems.append(f"cell {index} is tagged 'solution' but is markdown (tag prose answers 'answer')")
        elif following is None or following.cell_type != "code" or not CHECK_CALL.search(following.source):
            problems.append(f"solution cell {index} is not followed by a check cell (check_function/check_value)")

    # hygiene: no outputs, no absolute paths, no secrets, safe loading, no remote code, no profile branches
    if any(c.outputs or c.execution_count is not None for c in code):
        problems.append("commit notebooks without outputs (e.g. jupyter nbconvert --clear-output --inplace)")
    if "widgets" in notebook.metadata:
        problems.append("saved widget state in the notebook metadata: clear it (it is an output)")
    for index, cell in enumerate(cells):
        source = cell.source if index else cell.source.replace(badge(relative), "")
        absolute = ABSOLUTE_PATH.search(source)
        if absolute:
            problems.append(f"cell {index} hard-codes an absolute path ({absolute.group(0)!r}); "
                            "use bigmodel_helpers.assets or paths relative to the project")
        if SECRET.search(source):
            problems.append(f"cell {index} seems to contain a secret (token, key or password)")
        if cell.cell_type != "code":
            continue
        if "trust_remote_code" in source:
            problems.append(f"cell {index} mentions trust_remote_code: never run code downloaded with a model")
        if re.search(r"\bPROFILE\s*(==|!=|\bin\b)", source):
            problems.append(f"cell {index} branches on PROFILE: put sizes in bigmodel_helpers/profiles.py instead")
        tree = _python(source)
        if tree is None:
            problems.append(f"cell {index} is not valid Python")
            continue
        for node in ast.walk(tree):
            if _is_call_to(node, "torch.load") and not any(
                    k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                    for k in node.keywords):
                problems.append(f"cell {index}: torch.load without weights_only=True")
            if not absolute and isinstance(node, ast.Constant) and isinstance(node.value, str) and re.match(
                    r"^(/(?!/)[\w.-]+/|~/)", node.value) and not node.value.startswith("/dev/"):
                problems.append(f"cell {index} has an absolute path string {node.value[:40]!r}")
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_has_the_course_shape(path):
    problems = shape_problems(path)
    assert not problems, f"{path.name} (see CONTRIBUTING.md):\n- " + "\n- ".join(problems)


def _fixture_titles(key):
    return {99: ("Exercise demo", "第99章：练习演示"), 98: ("Broken", "第98章：坏例子")}.get(key) or expected_titles(key)


def test_good_fixture_has_no_problems():
    assert shape_problems(FIXTURES / "ch99_demo.ipynb", _fixture_titles) == []


def test_broken_fixture_reports_every_defect():
    problems = "\n".join(shape_problems(FIXTURES / "ch98_broken.ipynb", _fixture_titles))
    for expected in ("Chinese title must be", "Colab badge", "Learning goals", "Time and hardware",
                     "glossary", "SETUP_CELL", 'PROFILE = "cpu"', "own name", "run.finish()", "numbered sections",
                     "at least 3 exercises", "not followed by a check", "without outputs", "absolute path",
                     "secret", "trust_remote_code", "weights_only=True", "branches on PROFILE"):
        assert expected in problems, f"the shape test missed a defect: {expected!r}\n{problems}"


@pytest.mark.parametrize("mutate, message", [
    (lambda nb: nb.cells[1].__setitem__("source", nb.cells[1].source + "\n"), "SETUP_CELL"),
    (lambda nb: nb.cells.pop(-1), "run.finish()"),
    (lambda nb: nb.cells[-1].outputs.append(nbformat.v4.new_output("stream", text="hi")), "without outputs"),
    (lambda nb: nb.cells.insert(9, nbformat.v4.new_markdown_cell("x")), "not followed by a check"),
    (lambda nb: nb.cells[0].__setitem__("source", nb.cells[0].source.replace("glossary.md", "gloss.txt")),
     "glossary"),
], ids=["setup", "finish", "outputs", "check-after-solution", "glossary"])
def test_each_single_defect_is_caught(tmp_path, mutate, message):
    notebook = nbformat.read(FIXTURES / "ch99_demo.ipynb", as_version=4)
    mutate(notebook)
    path = tmp_path / "ch99_demo.ipynb"
    nbformat.write(notebook, path)
    problems = [p for p in shape_problems(path, _fixture_titles) if "Colab badge" not in p]   # tmp path: other badge
    assert any(message in p for p in problems), problems


GLOSSARY = ROOT / "chapters" / "glossary.md"


def _glossary_anchors() -> set[str]:
    return set(re.findall(r'<a id="([\w-]+)"></a>', GLOSSARY.read_text(encoding="utf-8")))


def test_glossary_has_the_seed_terms_and_every_chapter_anchor():
    text = GLOSSARY.read_text(encoding="utf-8")
    for chinese, english in [("大模型", "large model"), ("预训练", "pretraining"), ("微调", "fine-tuning"),
                             ("反向传播", "backpropagation"), ("注意力机制", "attention"), ("多模态", "multimodal"),
                             ("知识蒸馏", "knowledge distillation"), ("量化", "quantization")]:
        assert re.search(rf"\|[^|\n]*{chinese}\s*\|\s*{english}", text), f"glossary lacks {chinese} ({english})"
    anchors = _glossary_anchors()
    assert {f"ch{n:02d}" for n in range(1, 12)} <= anchors
    rows = re.findall(r"^\| <a id=\"[\w-]+\"></a>[^|]+\|[^|]+\|([^|]+)\|$", text, re.MULTILINE)
    assert len(rows) >= 60 and all(len(d.strip()) > 15 for d in rows), "every term needs a one-line definition"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_glossary_links_point_to_existing_anchors(path):
    notebook = nbformat.read(path, as_version=4)
    links = re.findall(r"glossary\.md#([\w-]+)", "\n".join(c.source for c in notebook.cells))
    missing = sorted(set(links) - _glossary_anchors())
    assert not missing, f"{path.name} links to glossary anchors that do not exist: {missing}"


def test_glossary_anchors_are_unique():
    """Two rows with one anchor would send a link to the wrong definition (chapters add terms in parallel)."""
    text = (Path(__file__).parents[1] / "chapters" / "glossary.md").read_text()
    anchors = re.findall(r'<a id="([^"]+)"></a>', text)
    duplicates = sorted({a for a in anchors if anchors.count(a) > 1})
    assert not duplicates, f"glossary anchors used twice: {duplicates}"
