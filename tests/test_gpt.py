"""The from-scratch GPT (bigmodel_helpers.models.gpt): parameter formula, causality, fused == manual attention,
the KV cache, clear errors, and equivalence with HF GPT-2 with every parameter randomised."""

import dataclasses

import pytest
import torch

from bigmodel_helpers.models import gpt
from bigmodel_helpers.models.gpt import (
    GPT,
    GPTConfig,
    KVCache,
    flops_per_token,
    from_hf,
    parameter_formula,
    to_hf,
)

TINY = GPTConfig(vocab_size=37, block_size=12, n_layer=2, n_head=4, n_embd=32, dropout=0.0)


def tiny_model(seed=0, **changes):
    torch.manual_seed(seed)
    return GPT(dataclasses.replace(TINY, **changes)).eval()


@torch.no_grad()
def randomise(model, seed=1):
    """Every parameter random, LayerNorm weights and all biases included (at init the biases are 0 and the
    LayerNorms the identity, so a test there cannot see a misplaced bias or norm)."""
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model


def test_the_module_is_importable_as_models_gpt():
    assert gpt.GPT is GPT and gpt.__name__ == "bigmodel_helpers.models.gpt"


@pytest.mark.parametrize("bias", [True, False])
def test_parameter_formula_matches_count(bias):
    configs = (TINY, GPTConfig(), GPTConfig(vocab_size=1000, block_size=128, n_layer=3, n_head=2, n_embd=48))
    for cfg in configs:
        cfg = dataclasses.replace(cfg, bias=bias)
        assert GPT(cfg).num_parameters() == parameter_formula(cfg)


def test_bias_false_removes_exactly_the_biases():
    with_bias, without = GPT(TINY), GPT(dataclasses.replace(TINY, bias=False))
    biases = sum(p.numel() for name, p in with_bias.named_parameters() if name.endswith(".bias"))
    assert not [name for name, _ in without.named_parameters() if name.endswith(".bias")]
    assert without.num_parameters() == with_bias.num_parameters() - biases
    C, L = TINY.n_embd, TINY.n_layer
    assert biases == L * (3 * C + C + 4 * C + C + 2 * C) + C   # per block 9C Linear + 2C norm biases; + ln_f's


def test_head_is_tied_to_token_embedding():
    model = tiny_model()
    assert model.lm_head.weight is model.wte.weight


def test_forward_shapes_and_loss():
    model = tiny_model()
    idx = torch.randint(0, TINY.vocab_size, (3, TINY.block_size))
    targets = torch.randint(0, TINY.vocab_size, (3, TINY.block_size))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, TINY.block_size, TINY.vocab_size)
    # At initialisation the loss is close to ln(V): every token about equally likely.
    assert abs(loss.item() - torch.log(torch.tensor(float(TINY.vocab_size))).item()) < 0.3
    assert model(idx)[1] is None


@pytest.mark.parametrize("attention", ["fused", "manual"])
def test_causal_future_tokens_do_not_change_earlier_logits(attention):
    model = randomise(tiny_model(attention=attention))
    idx = torch.randint(0, TINY.vocab_size, (2, TINY.block_size))
    changed = idx.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % TINY.vocab_size
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6, rtol=0)
    assert not torch.allclose(a[:, 7:], b[:, 7:])


# ------------------------------------------------------------------------------- fused == manual attention
def fused_and_manual(seed=0, **changes):
    manual = randomise(tiny_model(seed, attention="manual", **changes))
    fused = tiny_model(seed, attention="fused", **changes)
    fused.load_state_dict(manual.state_dict())
    return fused, manual


@pytest.mark.parametrize("bias", [True, False])
def test_fused_attention_equals_manual_logits_and_gradients(bias):
    fused, manual = fused_and_manual(bias=bias)
    idx = torch.randint(0, TINY.vocab_size, (3, TINY.block_size))
    targets = torch.randint(0, TINY.vocab_size, (3, TINY.block_size))
    for model in (fused, manual):
        model.train()   # dropout is 0: train mode changes nothing but exercises the training branch
        model(idx, targets)[1].backward()
    assert torch.allclose(fused(idx)[0], manual(idx)[0], atol=1e-5, rtol=1e-5)
    grads = dict(manual.named_parameters())
    for name, p in fused.named_parameters():
        assert torch.allclose(p.grad, grads[name].grad, atol=1e-5, rtol=1e-4), name


@pytest.mark.parametrize("attention", ["fused", "manual"])
def test_dropout_is_random_in_training_and_off_in_eval(attention):
    model = randomise(tiny_model(attention=attention, dropout=0.3))
    idx = torch.randint(0, TINY.vocab_size, (2, TINY.block_size))
    model.train()
    assert not torch.allclose(model(idx)[0], model(idx)[0])
    model.eval()
    assert torch.equal(model(idx)[0], model(idx)[0])


def test_attention_dropout_applies_in_the_fused_path_too():
    """Only the attention weights are dropped (residual and embedding dropout off): the outputs change."""
    fused, manual = fused_and_manual(dropout=0.5)
    idx = torch.randint(0, TINY.vocab_size, (2, TINY.block_size))
    eval_logits = fused(idx)[0]
    for model in (fused, manual):
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Dropout) and not name.endswith("attn_dropout"):
                module.p = 0.0
        model.train()
        assert not torch.allclose(model(idx)[0], eval_logits, atol=1e-3)


# ------------------------------------------------------------------------------------------------ KV cache
@pytest.mark.parametrize("attention", ["fused", "manual"])
def test_cache_chunks_give_the_same_logits_as_one_pass(attention):
    model = randomise(tiny_model(attention=attention))
    idx = torch.randint(0, TINY.vocab_size, (2, TINY.block_size))
    full, _ = model(idx)
    cache = [KVCache() for _ in model.h]
    pieces = [model(idx[:, a:b], cache=cache)[0] for a, b in ((0, 5), (5, 9), (9, 10), (10, 12))]
    assert len(cache[0]) == TINY.block_size
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention", ["fused", "manual"])
def test_cached_logits_equal_uncached_at_every_step_also_past_block_size(attention):
    model = randomise(tiny_model(attention=attention))
    idx = torch.randint(0, TINY.vocab_size, (3, 4))
    cache = [KVCache() for _ in model.h]
    for _ in range(2 * TINY.block_size):   # well past block_size: the window slides, the cache falls back
        cached, uncached = model.next_token_logits(idx, cache), model.next_token_logits(idx)
        assert torch.allclose(cached, uncached, atol=1e-5, rtol=1e-5), idx.size(1)
        idx = torch.cat([idx, cached.argmax(-1, keepdim=True)], dim=1)


@pytest.mark.parametrize("top_k", [1, None, 5])
def test_generate_with_and_without_cache_gives_the_same_tokens(top_k):
    model = randomise(tiny_model())
    idx = torch.randint(0, TINY.vocab_size, (2, 3))
    out = [model.generate(idx, 30, temperature=0.9, top_k=top_k, generator=torch.Generator().manual_seed(7),
                          use_cache=use_cache) for use_cache in (True, False)]
    assert torch.equal(out[0], out[1])


def test_generate_appends_tokens_within_vocabulary():
    model = tiny_model()
    idx = torch.zeros(2, 1, dtype=torch.long)
    out = model.generate(idx, max_new_tokens=20, temperature=0.8, top_k=5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 21) and out.min() >= 0 and out.max() < TINY.vocab_size  # longer than block_size: cropped


# ---------------------------------------------------------------------------------------------- clear errors
def test_n_embd_not_a_multiple_of_n_head_says_how_to_fix_it():
    with pytest.raises(ValueError, match=r"n_embd=130 is not a multiple of n_head=4.*n_embd=128 or 132.*n_head "
                                         r"in \[1, 2, 5, 10, 13, 26\]"):
        GPTConfig(n_embd=130, n_head=4)


def test_unknown_attention_lists_the_valid_values():
    with pytest.raises(ValueError, match=r"attention='flash' is not one of \('fused', 'manual'\)"):
        GPTConfig(attention="flash")


@pytest.mark.parametrize("bad", [TINY.vocab_size, -1])
def test_token_ids_outside_the_vocabulary_are_named(bad):
    model = tiny_model()
    idx = torch.zeros(2, 5, dtype=torch.long)
    idx[1, 3] = bad
    message = rf"token id {bad} is outside the vocabulary 0\.\.{TINY.vocab_size - 1}"
    with pytest.raises(ValueError, match=message):
        model(idx)
    with pytest.raises(ValueError, match=message):
        model.generate(idx, 2)


def test_bias_false_has_no_gpt2_twin():
    with pytest.raises(ValueError, match=r"GPTConfig\(bias=False\) has no GPT2LMHeadModel twin.*bias=True"):
        to_hf(tiny_model(bias=False))


# ------------------------------------------------------------------------------------------ HF GPT-2 twin
def test_equivalent_to_hf_gpt2_both_ways():
    model = tiny_model()
    idx = torch.randint(0, TINY.vocab_size, (2, TINY.block_size))
    hf = to_hf(model)
    with torch.no_grad():
        ours, _ = model(idx)
        theirs = hf(idx).logits
    assert (ours - theirs).abs().max().item() < 1e-5
    assert hf.num_parameters() == model.num_parameters()
    back = from_hf(hf).eval()
    with torch.no_grad():
        assert torch.equal(back(idx)[0], ours)


@pytest.mark.parametrize("attention", ["fused", "manual"])
def test_equivalent_to_hf_gpt2_with_every_parameter_randomised(attention):
    model = randomise(tiny_model(attention=attention))
    idx = torch.randint(0, TINY.vocab_size, (2, TINY.block_size))
    hf = to_hf(model)
    with torch.no_grad():
        ours, theirs = model(idx)[0], hf(idx).logits
        assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-5), (ours - theirs).abs().max()
        back = from_hf(hf, attention=attention).eval()
        assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), model.state_dict().values()))
        assert torch.equal(back(idx)[0], ours)


@torch.no_grad()
def swapped_norms_vs_hf(model, idx):
    """Largest logit difference between GPT-2 and ``model`` with ln_1 and ln_2 swapped in every block: what
    a ``to_hf`` that mixed the two up would give."""
    hf = to_hf(model)
    for block in hf.transformer.h:
        block.ln_1, block.ln_2 = block.ln_2, block.ln_1
    return (model(idx)[0] - hf(idx).logits).abs().max().item()


def test_swapping_ln_1_and_ln_2_is_caught_only_with_randomised_parameters():
    idx = torch.randint(0, TINY.vocab_size, (2, TINY.block_size))
    assert swapped_norms_vs_hf(tiny_model(), idx) < 1e-5             # at init both norms are the identity
    assert swapped_norms_vs_hf(randomise(tiny_model()), idx) > 1e-2  # randomised: the swap shows


def test_flops_per_token_counts_six_per_weight_plus_attention():
    for cfg in (TINY, dataclasses.replace(TINY, bias=False)):
        n_no_pos = GPT(cfg).num_parameters() - cfg.block_size * cfg.n_embd
        assert flops_per_token(cfg) == 6 * n_no_pos + 12 * cfg.n_layer * cfg.n_embd * cfg.block_size
    # bias=False, by hand: V*C + L*(12 C^2 + 2C) + C weights that multiply (the position embedding left out)
    V, C, L, T = TINY.vocab_size, TINY.n_embd, TINY.n_layer, TINY.block_size
    assert flops_per_token(dataclasses.replace(TINY, bias=False)) == 6 * (V * C + L * (12 * C * C + 2 * C) + C) \
        + 12 * L * C * T
