"""The from-scratch GPT (bigmodel_helpers.gpt): parameter formula, causality, equivalence with HF GPT-2."""

import torch

from bigmodel_helpers.gpt import GPT, GPTConfig, flops_per_token, from_hf, parameter_formula, to_hf

TINY = GPTConfig(vocab_size=37, block_size=12, n_layer=2, n_head=4, n_embd=32, dropout=0.0)


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return GPT(TINY).eval()


def test_parameter_formula_matches_count():
    for cfg in (TINY, GPTConfig(), GPTConfig(vocab_size=1000, block_size=128, n_layer=3, n_head=2, n_embd=48)):
        assert GPT(cfg).num_parameters() == parameter_formula(cfg)


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


def test_causal_future_tokens_do_not_change_earlier_logits():
    model = tiny_model()
    idx = torch.randint(0, TINY.vocab_size, (2, TINY.block_size))
    changed = idx.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % TINY.vocab_size
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.equal(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


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


def test_generate_appends_tokens_within_vocabulary():
    model = tiny_model()
    idx = torch.zeros(2, 1, dtype=torch.long)
    out = model.generate(idx, max_new_tokens=20, temperature=0.8, top_k=5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 21) and out.min() >= 0 and out.max() < TINY.vocab_size  # longer than block_size: cropped


def test_flops_per_token_counts_six_per_weight_plus_attention():
    n_no_pos = parameter_formula(TINY) - TINY.block_size * TINY.n_embd
    assert flops_per_token(TINY) == 6 * n_no_pos + 12 * TINY.n_layer * TINY.n_embd * TINY.block_size
