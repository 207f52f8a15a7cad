"""Chapter 3's GPT-2 path without the hub: the gpu profile loads ``GPT2LMHeadModel.from_pretrained("gpt2")`` and
turns it into the course GPT with ``from_hf``. Offline, the same conversion is checked on a tiny GPT-2 that
``transformers`` itself builds and initialises (not one made by our ``to_hf``), every weight randomised."""

import pytest
import torch
import transformers

from bigmodel_helpers.models.gpt import from_hf


def tiny_hf_gpt2(seed=0):
    """A randomly initialised GPT2LMHeadModel of GPT-2's architecture (the hub model's defaults, smaller)."""
    torch.manual_seed(seed)
    config = transformers.GPT2Config(vocab_size=61, n_positions=16, n_embd=32, n_layer=2, n_head=4)
    hf = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():   # biases and LayerNorms too: at init they are 0 and 1, which would hide a misplaced one
        g = torch.Generator().manual_seed(seed + 1)
        for p in hf.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return hf


@pytest.mark.parametrize("attention", ["fused", "manual"])
def test_from_hf_on_a_transformers_gpt2_gives_the_same_logits(attention):
    hf = tiny_hf_gpt2()
    ours = from_hf(hf, attention=attention).eval()
    assert (ours.cfg.vocab_size, ours.cfg.block_size, ours.cfg.n_layer, ours.cfg.n_head, ours.cfg.n_embd) == (61, 16, 2, 4, 32)
    assert ours.num_parameters() == hf.num_parameters()
    idx = torch.randint(0, 61, (3, 16), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        mine, theirs = ours(idx)[0], hf(idx).logits
    assert mine.shape == theirs.shape
    assert torch.allclose(mine, theirs, atol=1e-4, rtol=1e-5), (mine - theirs).abs().max()


def test_from_hf_greedy_continuation_matches_transformers_generate():
    hf = tiny_hf_gpt2(seed=3)
    ours = from_hf(hf).eval()
    prompt = torch.randint(0, 61, (1, 5), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        theirs = hf.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=None)
        mine = prompt
        for _ in range(8):   # greedy with our forward pass: the most likely next token, appended
            mine = torch.cat([mine, ours(mine)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    assert mine.tolist() == theirs.tolist()


def test_from_hf_copies_weights_not_shares_them():
    hf = tiny_hf_gpt2()
    ours = from_hf(hf)
    before = ours.state_dict()["wte.weight"].clone()
    with torch.no_grad():
        hf.transformer.wte.weight.add_(1.0)
    assert torch.equal(ours.state_dict()["wte.weight"], before)
