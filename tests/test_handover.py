"""The chapter 3 -> chapter 6 handover: what is saved loads back identical, and a missing one says what to run."""

import json

import pytest
import torch

from bigmodel_helpers import handover
from bigmodel_helpers.models.gpt import GPT, GPTConfig


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("BIGMODEL_BUILD_DIR", str(tmp_path))
    return tmp_path


def _model(vocab_size=7):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=16))


def test_saved_gpt_loads_back_with_the_same_logits_vocab_and_card(build):
    model, vocab = _model(), list("abcdefg")
    folder = handover.save_gpt("smoke", "char_gpt", model, vocab, {"plays": ["Hamlet"], "steps": 3})
    assert folder == build / "smoke" / "handover" / "char_gpt"
    loaded, vocab_back, trained_on = handover.load_gpt("smoke", "char_gpt")
    x = torch.randint(0, 7, (2, 8))
    assert torch.equal(model.eval()(x)[0], loaded(x)[0])
    assert vocab_back == vocab and trained_on == {"plays": ["Hamlet"], "steps": 3}
    assert not loaded.training


def test_saving_again_replaces_the_model_and_leaves_no_temporary_folders(build):
    handover.save_gpt("smoke", "char_gpt", _model(), list("abcdefg"), {"steps": 1})
    handover.save_gpt("smoke", "char_gpt", _model(5), list("abcde"), {"steps": 2})
    _, vocab, trained_on = handover.load_gpt("smoke", "char_gpt")
    assert vocab == list("abcde") and trained_on["steps"] == 2
    assert [p.name for p in (build / "smoke" / "handover").iterdir()] == ["char_gpt"]


def test_missing_handover_names_the_chapter_to_run(build):
    with pytest.raises(handover.HandoverMissing, match="ch03_pretraining.ipynb.*--profile cpu"):
        handover.load_gpt("cpu", "char_gpt")


def test_bad_inputs_are_refused_before_anything_is_written(build):
    with pytest.raises(ValueError, match="vocab_size=7"):
        handover.save_gpt("smoke", "char_gpt", _model(), list("abc"), {})
    with pytest.raises(TypeError, match="not JSON serializable"):
        handover.save_gpt("smoke", "char_gpt", _model(), list("abcdefg"), {"when": object()})
    with pytest.raises(ValueError, match="plain folder name"):
        handover.handover_dir("smoke", "../elsewhere")
    assert not (build / "smoke" / "handover" / "char_gpt").exists()


def test_card_is_readable_json(build):
    folder = handover.save_gpt("smoke", "char_gpt", _model(), list("abcdefg"), {"val_loss": 1.5})
    card = json.loads((folder / "card.json").read_text())
    assert card["config"]["n_embd"] == 16 and card["trained_on"]["val_loss"] == 1.5
