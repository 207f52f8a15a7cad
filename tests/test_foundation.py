"""Profiles, environment report, set-up files."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from bigmodel_helpers import env, profiles
from bigmodel_helpers.course import start

ROOT = Path(__file__).resolve().parent.parent


def test_start_records_seconds_and_honours_the_colab_override(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BIGMODEL_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("BIGMODEL_PROFILE", "smoke")
    run = start("ch04_tools_data", "cpu", seed=3)
    assert run.profile == "smoke" and "BIGMODEL_PROFILE is set" in capsys.readouterr().out
    assert run.sizes == profiles.sizes("ch04_tools_data", "smoke")
    a = torch.rand(3)
    run2 = start("ch04_tools_data", "smoke", seed=3)
    assert torch.equal(a, torch.rand(3)), "start() must seed torch"
    assert run2.finish() >= 0
    assert (tmp_path / "smoke" / "results.json").is_file()


def test_device_choice_gives_a_reason_and_rejects_unknown_devices():
    device, reason = env.pick_device("auto")
    assert device.type in ("cpu", "cuda", "mps") and reason
    assert env.pick_device("cpu")[0].type == "cpu"
    with pytest.raises(ValueError, match="Valid: auto, cpu, cuda, mps"):
        env.pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            env.pick_device("cuda")


def test_environment_report_names_versions():
    report = env.environment_report()
    assert report["torch"] == torch.__version__
    assert report["packages"]["transformers"] != "not installed"
    text = env.format_report(report)
    assert "torch" in text and report["device"] in text


def _pins(lines):
    return {m.group(1).lower(): m.group(2) for m in (re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s;#]+)", l) for l in lines) if m}


def test_requirements_are_exact_pins_and_environment_yml_uses_them():
    req = (ROOT / "requirements.txt").read_text().splitlines()
    entries = [l.strip() for l in req if l.strip() and not l.strip().startswith("#")]
    assert entries and all("==" in e for e in entries), [e for e in entries if "==" not in e]
    assert _pins(req)["torch"] == "2.14.1" and _pins(req)["torchvision"] == "0.29.1"
    yml = (ROOT / "environment.yml").read_text()
    assert re.search(r"python=3\.11\b", yml)
    assert "-r requirements.txt" in yml, "environment.yml must install requirements.txt (one source of pins)"
    # No package pinned in environment.yml itself, so the two cannot drift.
    assert not _pins(l.strip(" -") for l in yml.splitlines()), "pin packages in requirements.txt only"


def test_helper_package_uses_lower_bounds_only():
    text = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"dependencies = \[(.*?)\]", text, re.DOTALL).group(1)
    assert "==" not in deps and ">=" in deps, "pyproject dependencies must be lower bounds (Colab keeps its torch)"


def test_makefile_targets_exist_and_create_the_environment_first():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("course", "lab", "test", "check-env", "clean", "student", "browser-test"):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target
    for target in ("course", "lab", "test", "check-env", "student"):
        assert re.search(rf"^{re.escape(target)}: \$\(STAMP\)", makefile, re.MULTILINE), f"{target} must depend on the venv"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_thread_policy_is_decided_once_reported_and_restored_after_fewer_threads(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BIGMODEL_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("BIGMODEL_THREADS", "2")
    run = start("ch04_tools_data", "smoke")
    assert (run.threads, run.threads_reason) == (2, "BIGMODEL_THREADS=2") and torch.get_num_threads() == 2
    assert "2 CPU threads (BIGMODEL_THREADS=2)" in capsys.readouterr().out
    with run.fewer_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2, "the chapter's policy is back after the block"
    try:
        with env.fewer_threads(1):
            raise RuntimeError("a failing cell")
    except RuntimeError:
        pass
    assert torch.get_num_threads() == 2, "restored even when the block fails"
    run = start("ch04_tools_data", "smoke", threads=1, threads_reason="tiny networks")
    assert torch.get_num_threads() == 1 and env.thread_policy() == (1, "tiny networks")
    with pytest.raises(ValueError, match="whole number >= 1"):
        env.apply_thread_policy(0)
    monkeypatch.delenv("BIGMODEL_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert env.apply_thread_policy() == (env.available_cores(), "one per available core")


def test_seed_everything_accepts_seeds_beyond_numpy_32_bits():
    env.seed_everything(2**32 + 5)
    a = (torch.rand(2), np.random.rand())
    env.seed_everything(2**32 + 5)
    assert torch.equal(a[0], torch.rand(2)) and a[1] == np.random.rand()


def test_measure_helpers():
    from bigmodel_helpers import measure
    assert measure.matmul_gflops(64, 2) > 0
    with pytest.raises(ValueError, match="whole numbers"):
        measure.matmul_gflops(0)
    summary = measure.latency_summary([0.001 * i for i in range(1, 101)])
    assert summary["p50_ms"] == pytest.approx(50.5) and summary["p95_ms"] == pytest.approx(95.05)
    tied = torch.nn.Linear(4, 4, bias=False)
    model = torch.nn.ModuleDict({"a": tied, "b": torch.nn.Linear(4, 4)})
    model["b"].weight = tied.weight
    assert measure.model_bytes(model) == (16 + 4) * 4, "a shared tensor counts once"


def test_the_package_docstring_lists_every_module():
    import bigmodel_helpers
    package = ROOT / "bigmodel_helpers"
    names = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    names |= {p.name + "/" for p in package.iterdir() if (p / "__init__.py").is_file()}
    missing = sorted(n for n in names if f"``{n}``" not in bigmodel_helpers.__doc__)
    assert not missing, f"add {missing} to the module list in bigmodel_helpers/__init__.py (and README's layout)"
