"""A GPT-2 language model from scratch, in the spirit of nanoGPT: one class per idea.

``GPTConfig`` (sizes and switches) -> ``CausalSelfAttention`` (tokens look back, never ahead) -> ``MLP``
(per-token computation) -> ``Block`` (pre-norm residual block: x + attn(ln(x)), x + mlp(ln(x))) -> ``GPT``
(token and position embeddings, blocks, final norm, output head tied to the token embedding). ``KVCache``
keeps the keys and values of past positions so that ``GPT.generate`` computes only the newest token.

Attention is written out by hand (``attention="manual"``: softmax(Q K^T / sqrt(d)) V, the readable path)
and also runs as one fused kernel (``attention="fused"``, the default: ``F.scaled_dot_product_attention``,
the same numbers up to rounding, faster). ``bias=False`` drops every bias (Linear and LayerNorm).

The layout and initialisation are GPT-2's, so ``to_hf`` / ``from_hf`` copy the weights into and out of a
``transformers.GPT2LMHeadModel`` of the same configuration and both give the same logits (chapter 3 asserts
it; ``tests/test_gpt.py`` too). Shapes: B batch, T time (tokens), C channels (``n_embd``), V vocabulary,
nh heads, hs head size (C / nh).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ATTENTION = ("fused", "manual")


@dataclass
class GPTConfig:
    vocab_size: int = 65       # distinct tokens (characters, or BPE pieces)
    block_size: int = 64       # the longest context the model can see (number of positions)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128          # width C; each head has C / n_head channels
    dropout: float = 0.0
    bias: bool = True          # biases in the Linear layers and LayerNorms, as GPT-2 (False: slightly smaller)
    attention: str = "fused"   # "fused": one scaled_dot_product_attention kernel; "manual": written out

    def __post_init__(self):
        if self.n_embd % self.n_head:
            near = sorted({max(self.n_head, self.n_embd // self.n_head * self.n_head),
                           (self.n_embd // self.n_head + 1) * self.n_head})
            heads = [h for h in range(1, min(self.n_embd, 64) + 1) if self.n_embd % h == 0]
            raise ValueError(f"n_embd={self.n_embd} is not a multiple of n_head={self.n_head}: every head gets "
                             f"n_embd / n_head channels. Use n_embd={' or '.join(map(str, near))}, or n_head "
                             f"in {heads}.")
        if self.attention not in ATTENTION:
            raise ValueError(f"attention={self.attention!r} is not one of {ATTENTION}: 'fused' runs "
                             "F.scaled_dot_product_attention, 'manual' the hand-written softmax(QK^T/sqrt(d))V.")


class KVCache:
    """One layer's keys and values of the positions seen so far, (B, nh, T_past, hs) each. With it,
    generation feeds only the new token through the model: the past tokens' k and v never change."""

    def __init__(self):
        self.k = self.v = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(2)

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new positions' k, v (B, nh, T, hs); return those of all positions (B, nh, T_past + T, hs)."""
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
        return self.k, self.v


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which token t attends to tokens 0..t only."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.fused = cfg.n_head, cfg.attention == "fused"
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)   # q, k, v of every head at once
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)       # mixes the heads' outputs
        self.attn_dropout = nn.Dropout(cfg.dropout)   # (the fused path reads its p)
        self.resid_dropout = nn.Dropout(cfg.dropout)
        # mask[t, s] is True where token t may look at token s (s <= t): a lower-triangular matrix.
        mask = torch.tril(torch.ones(cfg.block_size, cfg.block_size, dtype=torch.bool))
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, nh, T, hs): each head attends independently.
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        past = 0
        if cache is not None:   # the queries are the new positions past..past+T-1; keys span 0..past+T-1
            past = len(cache)
            k, v = cache.append(k, v)
        mask = self.mask[past:past + T, :past + T]                           # (T, past + T)
        if self.fused:   # one kernel, no (T, T) matrix kept for backward; dropout only while training
            p = self.attn_dropout.p if self.training else 0.0
            causal = past == 0   # is_causal is the square mask; with a cache, pass the rows of ours
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None if causal else mask, dropout_p=p,
                                               is_causal=causal)
        else:
            att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))        # (B, nh, T, past + T) similarities
            att = att.masked_fill(~mask, float("-inf"))                     # no looking ahead
            att = self.attn_dropout(F.softmax(att, dim=-1))                 # each row sums to 1
            y = att @ v                                                     # (B, nh, T, hs) weighted values
        y = y.transpose(1, 2).contiguous().view(B, T, C)                    # heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Two linear layers with a GELU between them, applied to every token on its own (C -> 4C -> C)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.gelu = nn.GELU(approximate="tanh")   # GPT-2's "gelu_new"
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One transformer block: communicate (attention), then compute (MLP), each on a residual path."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        x = x + self.mlp(self.ln_2(x))
        return x


def check_token_ids(idx: torch.Tensor, vocab_size: int) -> None:
    """Raise a ValueError naming the offending id unless every id in ``idx`` is in 0..vocab_size-1."""
    low, high = (m.item() for m in torch.aminmax(idx))
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"token id {bad} is outside the vocabulary 0..{vocab_size - 1}: encode the text with "
                         f"the tokenizer the model was built for, or set GPTConfig(vocab_size=...) to cover it.")


class GPT(nn.Module):
    """The whole language model: ``forward(idx, targets=None) -> (logits, loss)``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)    # token embedding
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)    # position embedding (learned, as in GPT-2)
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight   # tied: one matrix reads tokens in and writes them out
        self.apply(self._init_weights)
        # GPT-2: the projections that write into the residual stream start smaller, by 1/sqrt(2 * n_layer),
        # because 2 * n_layer of them add up along it.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: list[KVCache] | None = None):
        """idx: (B, T) token ids, T <= block_size. Returns logits (B, T, V) and the mean cross-entropy
        against ``targets`` (B, T) -- the next tokens -- or None without targets. ``cache`` (one ``KVCache``
        per layer): idx holds only the positions after those already in it."""
        T = idx.size(1)
        past = len(cache[0]) if cache else 0
        if past + T > self.cfg.block_size:
            raise ValueError(f"sequence of {past + T} tokens is longer than block_size={self.cfg.block_size}")
        # On the CPU a bad id would stop the embedding with "index out of range in self"; say which id it is.
        # Two reductions over B*T ids: measured no slower per training step (bench/bench_gpt.py). Skipped on
        # GPUs (.item() would wait for the GPU every step) and inside torch.compile (no graph break).
        if idx.device.type == "cpu" and not torch.compiler.is_compiling():
            check_token_ids(idx, self.cfg.vocab_size)
        pos = torch.arange(past, past + T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))            # (B, T, C)
        for i, block in enumerate(self.h):
            x = block(x, cache[i] if cache else None)
        logits = self.lm_head(self.ln_f(x))                     # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    def num_parameters(self) -> int:
        """Distinct trainable numbers (the tied head is counted once)."""
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def next_token_logits(self, idx: torch.Tensor, cache: list[KVCache] | None = None) -> torch.Tensor:
        """Logits (B, V) of the token after ``idx`` (B, T). With ``cache`` only the positions it has not seen
        are computed. Past block_size the window slides: every kept token moves to a new position, so the
        stored keys are stale and the cropped window is recomputed in full (as without a cache)."""
        if cache is None or idx.size(1) > self.cfg.block_size:
            logits, _ = self(idx[:, -self.cfg.block_size:])     # the model sees at most block_size tokens
        else:
            logits, _ = self(idx[:, len(cache[0]):], cache=cache)
        return logits[:, -1, :]                                 # only the last position predicts the next

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None, use_cache: bool = True) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to ``idx`` (B, T). ``temperature`` < 1 sharpens the
        distribution; ``top_k`` keeps only the k most likely tokens at each step; ``use_cache`` keeps past
        keys and values (a ``KVCache`` per layer) so that each step computes one position, not all."""
        check_token_ids(idx, self.cfg.vocab_size)
        was_training = self.training
        self.eval()
        cache = [KVCache() for _ in self.h] if use_cache else None
        for _ in range(max_new_tokens):
            logits = self.next_token_logits(idx, cache) / max(temperature, 1e-8)
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = F.softmax(logits, dim=-1)
            next_token = torch.multinomial(probs, num_samples=1, generator=generator)
            idx = torch.cat([idx, next_token], dim=1)
        self.train(was_training)
        return idx


def parameter_formula(cfg: GPTConfig) -> int:
    """Parameters of ``GPT(cfg)`` by hand: V*C + T*C (embeddings) + n_layer * (12 C^2 + 13 C) (blocks)
    + 2C (final norm); the head is tied, so it adds nothing.

    Per block: attention 3C^2 + 3C (q, k, v) + C^2 + C (projection); MLP 4C^2 + 4C + 4C^2 + C;
    two LayerNorms 2 * 2C. Total 12 C^2 + 13 C. With ``bias=False``: 12 C^2 + 2C per block (the
    LayerNorms' weights only) and C for the final norm.
    """
    V, T, C, L = cfg.vocab_size, cfg.block_size, cfg.n_embd, cfg.n_layer
    if cfg.bias:
        return V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C
    return V * C + T * C + L * (12 * C * C + 2 * C) + C


def flops_per_token(cfg: GPTConfig, seq_len: int | None = None) -> int:
    """Training FLOPs per token (forward + backward), the nanoGPT / PaLM estimate:
    6 * N (every weight: a multiply and an add forward, twice that backward) + 12 * n_layer * C * T for the
    attention scores and the weighted sum. N leaves out the position embedding (a lookup, no matmul);
    the token embedding stays in because the tied head is a real (C x V) matmul."""
    T = seq_len or cfg.block_size
    n = parameter_formula(cfg) - cfg.block_size * cfg.n_embd
    return 6 * n + 12 * cfg.n_layer * cfg.n_embd * T


# ------------------------------------------------------------------------- to and from Hugging Face GPT-2
def hf_config(cfg: GPTConfig):
    """The ``transformers.GPT2Config`` with the same architecture as ``cfg``."""
    from transformers import GPT2Config
    if not cfg.bias:
        raise ValueError("GPT-2 has a bias in every Linear layer and LayerNorm, so a model built with "
                         "GPTConfig(bias=False) has no GPT2LMHeadModel twin; build it with bias=True.")
    return GPT2Config(vocab_size=cfg.vocab_size, n_positions=cfg.block_size, n_embd=cfg.n_embd,
                      n_layer=cfg.n_layer, n_head=cfg.n_head, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout,
                      attn_pdrop=cfg.dropout, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                      tie_word_embeddings=True, bos_token_id=None, eos_token_id=None)


def _hf_names(cfg: GPTConfig) -> dict[str, tuple[str, bool]]:
    """Our parameter name -> (GPT2LMHeadModel's name, transpose?). HF keeps GPT-2's ``Conv1D`` layers,
    whose weight is stored (in, out): the transpose of ``nn.Linear``'s (out, in)."""
    names = {"wte.weight": ("transformer.wte.weight", False), "wpe.weight": ("transformer.wpe.weight", False),
             "ln_f.weight": ("transformer.ln_f.weight", False), "ln_f.bias": ("transformer.ln_f.bias", False)}
    for i in range(cfg.n_layer):
        for layer in ("ln_1", "ln_2"):
            for kind in ("weight", "bias"):
                names[f"h.{i}.{layer}.{kind}"] = (f"transformer.h.{i}.{layer}.{kind}", False)
        for layer in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            names[f"h.{i}.{layer}.weight"] = (f"transformer.h.{i}.{layer}.weight", True)
            names[f"h.{i}.{layer}.bias"] = (f"transformer.h.{i}.{layer}.bias", False)
    return names


@torch.no_grad()
def to_hf(model: GPT):
    """A ``transformers.GPT2LMHeadModel`` holding a copy of ``model``'s weights (needs ``bias=True``)."""
    from transformers import GPT2LMHeadModel
    hf = GPT2LMHeadModel(hf_config(model.cfg)).eval()
    ours, theirs = dict(model.named_parameters()), hf.state_dict()
    for name, (hf_name, transpose) in _hf_names(model.cfg).items():
        value = ours[name].t() if transpose else ours[name]
        theirs[hf_name].copy_(value)
    hf.tie_weights()
    return hf


@torch.no_grad()
def from_hf(hf, attention: str = "fused") -> GPT:
    """A ``GPT`` holding a copy of a ``GPT2LMHeadModel``'s weights (the configuration is read from it;
    GPT-2 always has biases, so ``bias=True``)."""
    c = hf.config
    cfg = GPTConfig(vocab_size=c.vocab_size, block_size=c.n_positions, n_layer=c.n_layer, n_head=c.n_head,
                    n_embd=c.n_embd, dropout=c.resid_pdrop, bias=True, attention=attention)
    model = GPT(cfg)
    ours, theirs = dict(model.named_parameters()), hf.state_dict()
    for name, (hf_name, transpose) in _hf_names(cfg).items():
        value = theirs[hf_name]
        ours[name].copy_(value.t() if transpose else value)
    return model
