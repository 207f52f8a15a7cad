"""The student build: learner copies of the chapter notebooks with the solutions taken out.

    python -m bigmodel_helpers.student chapters student      # what `make student` runs

For every ``SRC/*.ipynb`` it writes ``DEST/<same name>`` (and copies ``SRC/*.md``, e.g. the glossary the
chapters link to) in which

* every code cell tagged ``solution`` becomes a placeholder that keeps the *shape* of the answer:
  a top-level ``def`` keeps its signature and docstring, its body becomes
  ``raise NotImplementedError("Exercise N: <title>")``; a class keeps its methods that way; ``NAME = …``
  becomes ``NAME = None  # Exercise N: your answer``; imports stay; any other statement becomes a
  ``# Exercise N: your code here`` comment. N and the title come from the ``### Exercise N · <title>``
  heading above the cell.
* markdown cells tagged ``answer`` become "*Your answer here.*";
* the check cell after a solution, and cells tagged ``reference``, get their source collapsed
  (``metadata.jupyter.source_hidden``): still there, but the learner is not staring at the reference;
* a cell setting ``exercises.STRICT = False`` is inserted after the parameters cell, so a failed check
  prints its verdict and "Run All" carries on (see ``bigmodel_helpers.exercises``);
* outputs and execution counts are cleared.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import shutil
import sys
from pathlib import Path

import nbformat

EXERCISE_HEADING = re.compile(r"^#{2,6}\s*Exercise\s+(\d+)\s*[·:.\-—–]*\s*(.*?)\s*$", re.MULTILINE)
STUDENT_MODE_CELL = ("# Student copy: a check that does not pass prints what differs, and the notebook runs on.\n"
                     "from bigmodel_helpers import exercises\n"
                     "exercises.STRICT = False")
ANSWER_PLACEHOLDER = "*Your answer here.*"


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _not_implemented(label: str) -> ast.stmt:
    return ast.parse(f"raise NotImplementedError({label!r})").body[0]


def _hollow_function(node, label: str):
    """The function with its docstring kept and its body replaced by ``raise NotImplementedError``."""
    node = copy.deepcopy(node)
    first = node.body[0] if node.body else None
    has_docstring = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
        and isinstance(first.value.value, str)
    node.body = ([first] if has_docstring else []) + [_not_implemented(label)]
    return node


def placeholder_source(source: str, label: str) -> str:
    """Replace the answer in a solution cell's ``source`` by a placeholder (see the module docstring)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"solution cell for {label!r} is not plain Python ({error}); keep IPython magics "
                         "out of solution cells.") from None
    parts, dropped = [], False
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            parts.append(ast.unparse(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            parts.append(ast.unparse(_hollow_function(node, label)))
        elif isinstance(node, ast.ClassDef):
            node = copy.deepcopy(node)
            node.body = [_hollow_function(item, label) if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                         else item for item in node.body]
            parts.append(ast.unparse(node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and all(
                isinstance(t, (ast.Name, ast.Tuple)) for t in (node.targets if isinstance(node, ast.Assign)
                                                               else [node.target])):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            parts.append("\n".join(f"{name} = None  # your answer ({label})" for name in dict.fromkeys(names)))
        else:
            dropped = True
    if dropped or not parts:
        parts.append(f"# {label}: your code here")
    text = "\n\n".join(parts)
    raise_line = ast.unparse(_not_implemented(label))
    return text.replace(raise_line, raise_line + "  # replace this line with your code")


def _exercise_label(heading_match, counter: int) -> str:
    if heading_match is None:
        return f"Exercise {counter}"
    number, title = heading_match.group(1), heading_match.group(2).strip().rstrip(".")
    return f"Exercise {number}: {title}" if title else f"Exercise {number}"


def student_notebook(notebook) -> tuple[object, dict]:
    """Return ``(student copy, report)``; report counts replaced solution cells and answer cells."""
    notebook = copy.deepcopy(notebook)
    report = {"solutions": 0, "answers": 0, "labels": []}
    heading, counter, after_solution = None, 0, False
    for cell in notebook.cells:
        cell_tags = tags(cell)
        if cell.cell_type == "markdown":
            found = list(EXERCISE_HEADING.finditer(cell.source))
            if found:
                heading = found[-1]
            if "answer" in cell_tags:
                cell.source = ANSWER_PLACEHOLDER
                report["answers"] += 1
        hide = after_solution or "reference" in cell_tags
        after_solution = False
        if cell.cell_type == "code" and "solution" in cell_tags:
            counter += 1
            label = _exercise_label(heading, counter)
            cell.source = placeholder_source(cell.source, label)
            cell.metadata["tags"] = [t for t in cell_tags if t != "solution"] + ["exercise"]
            report["solutions"] += 1
            report["labels"].append(label)
            after_solution = True
        if hide and cell.cell_type == "code":
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    code_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    parameters = [i for i in code_cells if "parameters" in tags(notebook.cells[i])]
    insert_at = parameters[0] + 1 if parameters else (code_cells[0] + 1 if code_cells else 0)
    strict_off = nbformat.v4.new_code_cell(STUDENT_MODE_CELL, metadata={"tags": ["student"]})
    if notebook.get("nbformat_minor", 5) < 5:
        strict_off.pop("id", None)   # cell ids only exist from nbformat 4.5 on
    notebook.cells.insert(insert_at, strict_off)
    return notebook, report


def build(source_dir: Path, dest_dir: Path, names: list[str] | None = None) -> dict[str, dict]:
    """Write student copies of ``source_dir/*.ipynb`` (or just ``names``) into ``dest_dir``."""
    source_dir, dest_dir = Path(source_dir), Path(dest_dir)
    if not source_dir.is_dir():
        raise FileNotFoundError(f"{source_dir} is not a folder of notebooks (try: chapters).")
    if source_dir.resolve() == dest_dir.resolve():
        raise ValueError("the student copies must go to another folder than the instructor notebooks.")
    notebooks = sorted(source_dir.glob("*.ipynb"))
    if names:
        notebooks = [p for p in notebooks if p.name in names or p.stem in names]
    dest_dir.mkdir(parents=True, exist_ok=True)
    reports = {}
    for path in notebooks:
        copy_, reports[path.name] = student_notebook(nbformat.read(path, as_version=4))
        nbformat.write(copy_, dest_dir / path.name)
    for extra in source_dir.glob("*.md"):   # the glossary and other pages the notebooks link to
        shutil.copy2(extra, dest_dir / extra.name)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write learner copies of the notebooks, solutions removed.")
    parser.add_argument("source", type=Path, help="folder of instructor notebooks, e.g. chapters")
    parser.add_argument("dest", type=Path, help="output folder, e.g. student")
    parser.add_argument("--only", nargs="*", help="notebook names or stems to build (default: all)")
    args = parser.parse_args(argv)
    reports = build(args.source, args.dest, args.only)
    for name, report in reports.items():
        print(f"{args.dest / name}: {report['solutions']} solution cells and {report['answers']} answer cells "
              "replaced")
    if not reports:
        print(f"no notebooks in {args.source}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
