"""A plain `pip install .` (what a non-editable install, a CI cache or a fork's wheel gets) must ship the whole
helper package: every module and data file under bigmodel_helpers/, and each of them must import from there.

The editable install `make setup` uses maps the source folder and hides a wheel that forgot a subpackage;
this test builds the real wheel (offline, from a copy of the sources so that the checkout gets no build/ or
.egg-info), installs it into a scratch folder and imports every module from that folder alone. About 15 s.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "bigmodel_helpers"


def _source_files() -> list[str]:
    """Every file of the package in the checkout, relative to the project root ('bigmodel_helpers/...')."""
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / PACKAGE).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))


def _module_names(files: list[str]) -> list[str]:
    """Importable module names; ``__main__`` modules run their command when imported, so they are left out."""
    names = []
    for rel in files:
        if not rel.endswith(".py") or rel.endswith("/__main__.py"):
            continue
        parts = rel[:-3].split("/")
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300, **kwargs)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of a copy of the sources, built without network or build isolation (setuptools of the venv)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / PACKAGE, src / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "--disable-pip-version-check", "-w", str(tmp / "dist"), str(src)])
    [built] = (tmp / "dist").glob("*.whl")
    return built


def test_the_wheel_holds_every_file_of_the_package(wheel):
    with zipfile.ZipFile(wheel) as zf:
        inside = set(zf.namelist())
    missing = [rel for rel in _source_files() if rel not in inside]
    assert not missing, (
        f"{wheel.name} lacks {len(missing)} file(s) of {PACKAGE}/: {missing[:12]}. Modules: list their packages "
        "in pyproject.toml ([tool.setuptools.packages.find]); other files: [tool.setuptools.package-data].")


def test_every_module_imports_from_an_install_of_the_wheel(wheel, tmp_path):
    target = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--disable-pip-version-check",
          "--target", str(target), str(wheel)])
    names = _module_names(_source_files())
    assert {PACKAGE, f"{PACKAGE}.train", f"{PACKAGE}.assets"} <= set(names), names
    # Import from the scratch folder only: PYTHONPATH is just that folder, the working directory is not the
    # checkout, and the editable install's finder (which maps the checkout) is removed. torch, transformers
    # and the other dependencies still come from this interpreter's site-packages.
    script = (
        "import importlib, json, sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in getattr(f, '__module__', '')]\n"
        "where, failed = {}, {}\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        where[name] = importlib.import_module(name).__file__\n"
        "    except Exception as err:\n"
        "        failed[name] = f'{type(err).__name__}: {err}'\n"
        "print('RESULT', json.dumps({'where': where, 'failed': failed}))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(target)
    out = _run([sys.executable, "-c", script, json.dumps(names)], env=env, cwd=tmp_path)
    result = json.loads(out.stdout.split("RESULT", 1)[1])
    assert result["failed"] == {}, result["failed"]
    elsewhere = {n: f for n, f in result["where"].items() if not Path(f).resolve().is_relative_to(target.resolve())}
    assert elsewhere == {}, f"imported from outside the installed wheel: {elsewhere}"
