"""Profiles, environment report, set-up files."""

import re
from pathlib import Path

import pytest
import torch

from bigmodel_helpers import env, profiles
from bigmodel_helpers.course import start

ROOT = Path(__file__).resolve().parent.parent


def test_every_profile_of_a_chapter_has_the_same_keys():
    for chapter, table in profiles.SIZES.items():
        assert set(table) == set(profiles.PROFILES), chapter
        keys = {p: set(v) for p, v in table.items()}
        assert keys["smoke"] == keys["cpu"] == keys["gpu"], f"{chapter}: {keys}"


def test_unknown_profile_and_chapter_say_what_is_valid():
    with pytest.raises(ValueError, match="Valid profiles: smoke, cpu, gpu"):
        profiles.sizes("ch04_tools_data", "fast")
    with pytest.raises(KeyError, match="Known chapters: .*ch04_tools_data"):
        profiles.sizes("ch99_nothing", "smoke")


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
    deps = re.search(r"dependencies = \[(.*?)\]", text, re.S).group(1)
    assert "==" not in deps and ">=" in deps, "pyproject dependencies must be lower bounds (Colab keeps its torch)"


def test_makefile_targets_exist_and_create_the_environment_first():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("course", "lab", "test", "check-env", "clean", "student", "browser-test"):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), target
    for target in ("course", "lab", "test", "check-env", "student"):
        assert re.search(rf"^{re.escape(target)}: \$\(STAMP\)", makefile, re.M), f"{target} must depend on the venv"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
