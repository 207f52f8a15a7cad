"""The student build: learner copies of the chapter notebooks with the solutions and the references taken out.

    python -m bigmodel_helpers.student chapters student      # what `make student` runs
    python -m bigmodel_helpers.student chapters student --profiles smoke cpu   # record two profiles

For every ``SRC/*.ipynb`` it writes ``DEST/<same name>`` and ``DEST/<stem>.expected.npz`` (and copies
``SRC/*.md``, e.g. the glossary the chapters link to). In the learner copy

* every code cell tagged ``solution`` becomes a placeholder that keeps the *shape* of the answer:
  a top-level ``def`` keeps its signature and docstring, its body becomes
  ``raise NotImplementedError("Exercise N: <title>")``; a class keeps its methods that way; ``NAME = …``
  becomes ``NAME = None  # Exercise N: your answer``; imports stay; any other statement becomes a
  ``# Exercise N: your code here`` comment. N and the title come from the ``### Exercise N · <title>``
  heading above the cell.
* markdown cells tagged ``answer`` become "*Your answer here.*";
* **no reference is left, hidden or not.** Every ``check_function``/``check_value`` call gets its reference
  argument (the third: a private function, a lambda, a library call, an expression, a literal) replaced by
  ``RECORDED``; the definitions that only the references use are removed: every top-level ``_reference_…``
  definition, and every ``def``/``NAME = …`` in a non-solution cell whose only users are references or other
  removed definitions (found from the code, so untagged reference cells are covered too; the old
  ``reference`` tag is no longer needed and is dropped). A cell left empty says where its outputs went;
  helpers that other cells use (the ``make_inputs`` functions, data) stay. A removed name that a kept cell
  still uses is a build error;
* a cell is inserted after the parameters cell that sets ``exercises.STRICT = False`` (a failed check
  prints its verdict and "Run All" carries on) and ``exercises.replay("<stem>.expected.npz")``;
* outputs and execution counts are cleared.

Where the expected outputs come from (the design choice): the references live in notebook cells and
depend on what earlier cells built (a tokenizer, a measured model, helper functions), so rather than
extracting a reference and its dependencies from the code (fragile), the build *executes* the instructor
notebook with papermill (profile ``smoke`` by default: about a minute per chapter; build products go to a
temporary ``BIGMODEL_BUILD_DIR``) with ``exercises.RECORD`` set. Every check then writes, besides its usual
verdict (strict: a wrong solution fails the build), what it computed: for ``check_function`` the seed, the
inputs and the reference output of each trial (seeds 0, 1, … instead of random ones), for ``check_value``
the expected answer. The recordings (one per profile) go to ``<stem>.expected.npz``: numpy arrays and a
JSON index, loaded with ``allow_pickle=False``. In the learner copy a check feeds the learner's function
the recorded inputs and compares with the recorded outputs, so the verdicts say what they said before
(shape, dtype, max diff, first wrong index, trial and seed), never values. A check uses the recording of
the running profile when there is one, else the first: recorded inputs make function checks independent of
the profile, but an answer computed from the profile's sizes (chapter 4's ``NEAR_DUPLICATES``) only
passes in a recorded profile (the verdict says so; ``--profiles smoke cpu`` records both). ``--no-record``
writes the copies without executing anything (their checks then say the data file is missing).
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

EXERCISE_HEADING = re.compile(r"^#{2,6}\s*Exercise\s+(\d+)\s*[·:.\-—–]*\s*(.*?)\s*$", re.MULTILINE)
STUDENT_MODE_CELL = ("# Student copy: a check that does not pass prints what differs, and the notebook runs on.\n"
                     "# The checks compare with reference outputs recorded in {data} (next to this notebook).\n"
                     "from bigmodel_helpers import exercises\n"
                     "from bigmodel_helpers.exercises import RECORDED\n"
                     "exercises.STRICT = False\n"
                     "exercises.replay({data!r})")
CHECK_FUNCTIONS = ("check_function", "check_value")
REFERENCE_ARGUMENT = {"check_function": "reference", "check_value": "expected"}
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


def data_name(stem: str) -> str:
    """The file next to a student copy that holds its checks' recorded reference outputs."""
    return f"{stem}.expected.npz"


def student_mode_cell(stem: str) -> str:
    return STUDENT_MODE_CELL.format(data=data_name(stem))


def _parse(source: str):
    """``(tree, plain)``: the cell's AST (IPython magics turned into Python) and whether it needed no turning."""
    try:
        return ast.parse(source), True
    except SyntaxError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return ast.parse(TransformerManager().transform_cell(source)), False
    except Exception:  # noqa: BLE001 -- not Python at all: nothing to analyse
        return None, False


def check_calls(tree) -> list[tuple[ast.Call, str, ast.expr | None]]:
    """``(call, check name, reference argument node)`` for every check_function/check_value call in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = ast.unparse(node.func).split(".")[-1]
            if function in CHECK_FUNCTIONS:
                reference = node.args[2] if len(node.args) > 2 else next(
                    (k.value for k in node.keywords if k.arg == REFERENCE_ARGUMENT[function]), None)
                name = node.args[0] if node.args else None
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    raise ValueError(f"a {function} call must name its exercise with a string literal first "
                                     f"(got {ast.unparse(name) if name is not None else 'nothing'}): the student "
                                     "copy finds its recorded outputs by that name")
                found.append((node, name.value, reference))
    return found


def _defined_names(statement) -> set[str] | None:
    """The names a top-level ``def``/``class``/``NAME = …`` defines; None for any other statement."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        if all(isinstance(t, (ast.Name, ast.Tuple)) for t in targets):
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if all(isinstance(n, ast.Name) for t in targets for n in ast.walk(t)
                   if not isinstance(n, (ast.Tuple, ast.expr_context))):
                return names
    return None


def _loads(node, skip: set[int]) -> set[str]:
    """Names read anywhere under ``node``, except under the nodes whose ids are in ``skip``."""
    names, stack = set(), [node]
    while stack:
        current = stack.pop()
        if id(current) in skip:
            continue
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Load):
            names.add(current.id)
        stack.extend(ast.iter_child_nodes(current))
    return names


def reference_plan(notebook) -> dict:
    """What the student build takes out of ``notebook`` (static, see the module docstring).

    Returns ``{"checks": [check names], "removed": {cell index: [statements]}, "names": removed names}``.
    Raises ValueError when a removed name is still used by a kept cell, or two checks share a name.
    """
    statements, reference_nodes, reference_loads, checks = [], set(), set(), []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        tree, plain = _parse(cell.source)
        if tree is None:
            continue
        for _, name, reference in check_calls(tree):
            if name in checks:
                raise ValueError(f"two checks are named {name!r}: the student copy finds its recorded outputs by "
                                 "the name, so each check needs its own")
            checks.append(name)
            if reference is not None:
                reference_nodes.add(id(reference))
                reference_loads |= _loads(reference, set())
        solution = "solution" in tags(cell)
        for statement in tree.body:
            defines = None if solution else _defined_names(statement)
            statements.append({"cell": index, "node": statement, "plain": plain, "defines": defines,
                               "loads": _loads(statement, reference_nodes)})
    definers: dict[str, list[int]] = {}
    for number, statement in enumerate(statements):
        for name in statement["defines"] or ():
            definers.setdefault(name, []).append(number)
    forced = {name for name in definers if name.startswith("_reference_")}
    removed_names, removed = set(forced), set()
    while True:
        removed = {n for n, st in enumerate(statements) if st["defines"] and st["defines"] <= removed_names}
        wanted = reference_loads | {name for n in removed for name in statements[n]["loads"]}
        grown = {name for name in wanted & set(definers) - removed_names
                 if all(n in removed or name in (st["defines"] or ()) for n, st in enumerate(statements)
                        if name in st["loads"])}
        if not grown:
            break
        removed_names |= grown
    for number, statement in enumerate(statements):
        if number not in removed and statement["loads"] & removed_names:
            raise ValueError(f"cell {statement['cell']} uses {', '.join(sorted(statement['loads'] & removed_names))}, "
                             "which only a check's reference may use (the student copy removes it)")
    plan = {"checks": checks, "removed": {}, "names": sorted(removed_names & set(definers))}
    for number in sorted(removed):
        if not statements[number]["plain"]:
            raise ValueError(f"cell {statements[number]['cell']} holds a reference and IPython magics; keep "
                             "magics out of the cells that define references")
        plan["removed"].setdefault(statements[number]["cell"], []).append(statements[number]["node"])
    return plan


def _offsets(source: str):
    """Character offset of (line number, UTF-8 column) in ``source``, as the ``ast`` module counts them."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return lambda line, column: starts[line - 1] + len(lines[line - 1].encode()[:column].decode())


def replace_references(source: str) -> str:
    """``source`` with the reference argument of every check call replaced by ``RECORDED``."""
    tree, plain = _parse(source)
    if tree is None:
        return source
    edits = [reference for _, _, reference in check_calls(tree) if reference is not None]
    if edits and not plain:
        raise ValueError("a check cell must be plain Python (no IPython magics)")
    offset = _offsets(source)
    for node in sorted(edits, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        start, end = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
        source = source[:start] + "RECORDED" + source[end:]
    return source


def _remove_statements(source: str, nodes, note: str) -> str:
    """``source`` without the lines of ``nodes`` (decorators included); ``note`` marks where they were."""
    lines = source.splitlines()
    spans = sorted((min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])]), n.end_lineno)
                   for n in nodes)
    keep, noted = [], False
    for number, line in enumerate(lines, start=1):
        if any(first <= number <= last for first, last in spans):
            if not noted:
                keep.append(note)
                noted = True
            continue
        keep.append(line)
    text = re.sub(r"\n{3,}", "\n\n\n", "\n".join(keep)).strip("\n")
    return text


def student_notebook(notebook, stem: str = "notebook") -> tuple[object, dict]:
    """Return ``(student copy, report)``; the report counts replaced solution cells and answer cells and lists
    the checks (their names: the keys of the recorded outputs) and the removed reference names."""
    notebook = copy.deepcopy(notebook)
    plan = reference_plan(notebook)
    report = {"solutions": 0, "answers": 0, "labels": [], "checks": plan["checks"], "removed": plan["names"]}
    data = data_name(stem)
    heading, counter = None, 0
    for index, cell in enumerate(notebook.cells):
        cell_tags = tags(cell)
        if cell.cell_type == "markdown":
            found = list(EXERCISE_HEADING.finditer(cell.source))
            if found:
                heading = found[-1]
            if "answer" in cell_tags:
                cell.source = ANSWER_PLACEHOLDER
                report["answers"] += 1
        if cell.cell_type == "code" and "solution" not in cell_tags:
            if index in plan["removed"]:
                nodes = plan["removed"][index]
                names = ", ".join(sorted({name for n in nodes for name in _defined_names(n)}))
                note = (f"# Student copy: {names} removed (only the checks used them);\n"
                        f"# the checks compare with the outputs recorded in {data}.")
                cell.source = _remove_statements(cell.source, nodes, note)
            cell.source = replace_references(cell.source)
            if "reference" in cell_tags:
                cell.metadata["tags"] = [t for t in cell_tags if t != "reference"]
                if not cell.metadata["tags"]:
                    del cell.metadata["tags"]
        if cell.cell_type == "code" and "solution" in cell_tags:
            counter += 1
            label = _exercise_label(heading, counter)
            cell.source = placeholder_source(cell.source, label)
            cell.metadata["tags"] = [t for t in cell_tags if t != "solution"] + ["exercise"]
            report["solutions"] += 1
            report["labels"].append(label)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    code_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    parameters = [i for i in code_cells if "parameters" in tags(notebook.cells[i])]
    insert_at = parameters[0] + 1 if parameters else (code_cells[0] + 1 if code_cells else 0)
    strict_off = nbformat.v4.new_code_cell(student_mode_cell(stem), metadata={"tags": ["student"]})
    if notebook.get("nbformat_minor", 5) < 5:
        strict_off.pop("id", None)   # cell ids only exist from nbformat 4.5 on
    notebook.cells.insert(insert_at, strict_off)
    return notebook, report


RECORD_CELL = ("# Student build: every check also records its inputs and reference outputs.\n"
               "from bigmodel_helpers import exercises\n"
               "exercises.RECORD = {path!r}")


def record(path: Path, profiles=("smoke",), checks=None, log=print, executed_dir: Path | None = None) -> dict:
    """Execute the instructor notebook ``path`` once per profile with ``exercises.RECORD`` set; return
    ``{"profiles": {profile: {check name: recording}}}`` (what ``<stem>.expected.npz`` holds).

    ``checks``: the check names that must have recorded; ``executed_dir``: keep the executed copies there
    (``<profile>_<name>``)."""
    import papermill

    from . import exercises, notebooks

    path = Path(path).resolve()
    recorded = {}
    package_root = str(Path(__file__).resolve().parents[1])   # the kernel records with this very package
    with tempfile.TemporaryDirectory(prefix=f"record_{path.stem}_") as work:
        work = Path(work)
        for profile in profiles:
            file = work / f"{profile}.npz"
            notebook = nbformat.read(path, as_version=4)
            code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
            parameters = [i for i in code if "parameters" in tags(notebook.cells[i])]
            at = parameters[0] + 1 if parameters else (code[0] + 1 if code else 0)
            cell = nbformat.v4.new_code_cell(RECORD_CELL.format(path=str(file)))
            if notebook.get("nbformat_minor", 5) < 5:
                cell.pop("id", None)   # cell ids only exist from nbformat 4.5 on
            notebook.cells.insert(at, cell)
            source = work / path.name
            nbformat.write(notebook, source)
            log(f"==> executing {path.name} ({profile} profile) to record its checks' reference outputs")
            env = {"BIGMODEL_BUILD_DIR": str(work / "build"),
                   "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)   # the kernel inherits this process's environment
            t0 = time.perf_counter()
            try:
                executed = work / f"executed_{profile}_{path.name}"
                papermill.execute_notebook(str(source), str(executed),
                                           parameters={"PROFILE": profile}, cwd=str(path.parent),
                                           kernel_name="python3", progress_bar=False,
                                           execution_timeout=notebooks.CELL_TIMEOUT_S[profile],
                                           **notebooks.client_options())
            finally:
                for key, value in saved.items():
                    os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
            if executed_dir is not None:
                Path(executed_dir).mkdir(parents=True, exist_ok=True)
                shutil.copy2(executed, Path(executed_dir) / f"{profile}_{path.name}")
            recorded[profile] = exercises.load_records(file) if file.is_file() else {}
            missing = [name for name in checks or () if name not in recorded[profile]]
            if missing:
                raise RuntimeError(f"{path.name} ({profile}): these checks recorded nothing: {missing} (did the "
                                   "kernel import another bigmodel_helpers?)")
            log(f"    recorded {len(recorded[profile])} checks of {path.name} ({profile} profile, "
                f"{time.perf_counter() - t0:.0f} s)")
    return {"profiles": recorded}


def build(source_dir: Path, dest_dir: Path, names: list[str] | None = None, profiles=("smoke",),
          record_outputs: bool = True, log=print, executed_dir: Path | None = None) -> dict[str, dict]:
    """Write student copies of ``source_dir/*.ipynb`` (or just ``names``) into ``dest_dir``, each with its
    ``<stem>.expected.npz`` (the instructor notebook is executed once per profile to record it, unless
    ``record_outputs`` is False)."""
    from . import exercises

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
        copy_, report = student_notebook(nbformat.read(path, as_version=4), path.stem)
        reports[path.name] = report
        data = dest_dir / data_name(path.stem)
        if record_outputs and report["checks"]:
            exercises.save_records(data, record(path, profiles, report["checks"], log=log,
                                                executed_dir=executed_dir))
        elif data.exists():
            data.unlink()   # a stale recording would check against old references
        nbformat.write(copy_, dest_dir / path.name)
    for extra in source_dir.glob("*.md"):   # the glossary and other pages the notebooks link to
        shutil.copy2(extra, dest_dir / extra.name)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write learner copies of the notebooks, solutions removed.")
    parser.add_argument("source", type=Path, help="folder of instructor notebooks, e.g. chapters")
    parser.add_argument("dest", type=Path, help="output folder, e.g. student")
    parser.add_argument("--only", nargs="*", help="notebook names or stems to build (default: all)")
    parser.add_argument("--profiles", nargs="+", default=["smoke"],
                        help="profiles to record the reference outputs in (default: smoke)")
    parser.add_argument("--no-record", action="store_true",
                        help="do not execute the notebooks: copies without recorded outputs")
    args = parser.parse_args(argv)
    reports = build(args.source, args.dest, args.only, profiles=args.profiles, record_outputs=not args.no_record,
                    log=lambda line: print(line, flush=True))
    for name, report in reports.items():
        print(f"{args.dest / name}: {report['solutions']} solution cells and {report['answers']} answer cells "
              f"replaced, {len(report['removed'])} reference definitions removed, {len(report['checks'])} checks "
              "replay recorded outputs")
    if not reports:
        print(f"no notebooks in {args.source}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
