"""assets.load_chat_lm (chapter 9): the gpu profile's hub model and the offline fallback."""

import pytest

from bigmodel_helpers import assets
from bigmodel_helpers.assets import models, resolve


@pytest.fixture
def stub_offline(monkeypatch):
    calls = []
    monkeypatch.setattr(models, "load_causal_lm", lambda profile, path=None: calls.append((profile, path))
                        or ("tok", "model", "SmolLM2-135M-Instruct"))
    return calls


def test_gpu_without_hub_falls_back_to_offline_smollm2_and_says_so(monkeypatch, capsys, stub_offline):
    monkeypatch.setattr(resolve, "hub_online", lambda timeout=1.5: False)
    assert assets.load_chat_lm("gpu") == ("tok", "model", "SmolLM2-135M-Instruct")
    out = capsys.readouterr().out
    assert "hub is unreachable" in out and assets.CHAT_HUB_NAME in out
    assert stub_offline == [("cpu", None)]   # the offline stack, never the hub's gpt2


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_cpu_profiles_never_ask_the_hub(monkeypatch, capsys, stub_offline, profile):
    monkeypatch.setattr(resolve, "hub_online", lambda timeout=1.5: pytest.fail("the hub was probed"))
    assert assets.load_chat_lm(profile)[2] == "SmolLM2-135M-Instruct"
    assert "hub" not in capsys.readouterr().out
    assert stub_offline == [("cpu", None)]


def test_gpu_with_hub_loads_the_larger_instruct_model(monkeypatch, capsys, stub_offline):
    import transformers
    monkeypatch.setattr(resolve, "hub_online", lambda timeout=1.5: True)
    loaded = []
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda name, **kw: loaded.append(name) or "T")
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained",
                        lambda name, **kw: loaded.append(name) or "M")
    assert assets.load_chat_lm("gpu") == ("T", "M", "SmolLM2-360M-Instruct")
    assert loaded == [assets.CHAT_HUB_NAME] * 2 and stub_offline == []
    assert "from the hub" in capsys.readouterr().out


def test_unknown_profile_is_refused(stub_offline):
    with pytest.raises(ValueError):
        assets.load_chat_lm("tpu")
