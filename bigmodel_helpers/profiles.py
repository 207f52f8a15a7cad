"""Profiles: the one place where sizes live.

Every notebook runs the same code in three profiles; only the numbers below change.

* ``smoke`` -- seconds, for CI (2 cores, offline). Small, but the real code path on real data.
* ``cpu``   -- minutes on a 2-4 core laptop: the learner's default.
* ``gpu``   -- full size on a real GPU (Colab or better), with hub checkpoints when online.

Each chapter has one table, keyed by the notebook's file stem. A chapter reads its sizes with
``sizes("ch04_tools_data", PROFILE)`` (or through ``start(...)``, which does it for you).
"""

from __future__ import annotations

from types import SimpleNamespace

PROFILES = ("smoke", "cpu", "gpu")

# chapter stem -> {profile -> {name: value}}. Keep every profile's keys identical.
SIZES: dict[str, dict[str, dict]] = {
    "ch01_overview": {
        "smoke": {"matmul_size": 512, "matmul_repeats": 20, "act_seq": 128, "act_batch": 2},
        "cpu": {"matmul_size": 2048, "matmul_repeats": 10, "act_seq": 256, "act_batch": 4},
        "gpu": {"matmul_size": 8192, "matmul_repeats": 10, "act_seq": 256, "act_batch": 4},
    },
    "ch02_foundations": {
        "smoke": {"gradcheck_hidden": 16, "mlp_hidden": 64, "mlp_epochs": 8, "mlp_batch": 32, "mlp_lr": 0.1,
                  "ffn_hidden": 128, "ffn_steps": 300, "ffn_batch": 64, "ffn_lr": 0.1, "ffn_adam_lr": 2e-3,
                  "w2v_reviews": 1500, "w2v_dim": 50, "w2v_epochs": 1, "w2v_batch": 2048,
                  "lstm_hidden": 128, "lstm_layers": 1, "lstm_steps": 120, "lstm_batch": 32, "lstm_context": 64,
                  "lstm_lr": 3e-3, "lstm_eval_batches": 5, "lstm_budget_s": 20},
        "cpu": {"gradcheck_hidden": 32, "mlp_hidden": 64, "mlp_epochs": 30, "mlp_batch": 32, "mlp_lr": 0.1,
                "ffn_hidden": 256, "ffn_steps": 1500, "ffn_batch": 64, "ffn_lr": 0.1, "ffn_adam_lr": 2e-3,
                "w2v_reviews": 8000, "w2v_dim": 100, "w2v_epochs": 3, "w2v_batch": 2048,
                "lstm_hidden": 256, "lstm_layers": 1, "lstm_steps": 800, "lstm_batch": 32, "lstm_context": 100,
                "lstm_lr": 3e-3, "lstm_eval_batches": 20, "lstm_budget_s": 180},
        "gpu": {"gradcheck_hidden": 32, "mlp_hidden": 64, "mlp_epochs": 30, "mlp_batch": 32, "mlp_lr": 0.1,
                "ffn_hidden": 512, "ffn_steps": 3000, "ffn_batch": 128, "ffn_lr": 0.1, "ffn_adam_lr": 2e-3,
                "w2v_reviews": 25000, "w2v_dim": 100, "w2v_epochs": 5, "w2v_batch": 4096,
                "lstm_hidden": 512, "lstm_layers": 2, "lstm_steps": 3000, "lstm_batch": 64, "lstm_context": 128,
                "lstm_lr": 2e-3, "lstm_eval_batches": 50, "lstm_budget_s": 300},
    },
    "ch03_pretraining": {
        # smoke: every section on tiny models for a few seconds each; cpu: the character GPT gets 4 minutes.
        "smoke": {"matmul_size": 512, "matmul_repeats": 3, "bpe_vocab": 512, "bpe_train_chars": 300_000,
                  "bpe_encode_chars": 300_000, "char_block": 64, "char_layers": 2, "char_heads": 4, "char_embd": 64,
                  "char_batch": 12, "char_lr": 2e-3, "char_budget_s": 6, "char_max_steps": 200, "probe_steps": 5,
                  "eval_windows": 64, "evals": 2, "log_every": 5, "sample_chars": 80, "bpe_block": 64,
                  "bpe_budget_s": 4, "mlm_seq": 64, "mlm_val_rows": 64, "stats_rows": 256, "bert_hidden": 64,
                  "bert_layers": 2, "bert_heads": 2, "mlm_max_steps": 30, "mlm_batch": 16, "mlm_lr": 1e-3,
                  "mlm_budget_s": 6, "t5_seq": 64, "t5_chars_per_play": 8_000, "t5_target_len": 24,
                  "t5_val_examples": 64, "t5_d_model": 64, "t5_layers": 2, "t5_max_steps": 20, "t5_batch": 16,
                  "t5_lr": 1e-3, "t5_budget_s": 5, "ft_seq": 32, "ft_train": 32, "ft_test": 32, "ft_steps": 4,
                  "ft_batch": 8, "ft_lr": 3e-4, "ft_lr_pretrained": 5e-5},
        "cpu": {"matmul_size": 2048, "matmul_repeats": 5, "bpe_vocab": 2048, "bpe_train_chars": 10_000_000,
                "bpe_encode_chars": 10_000_000, "char_block": 64, "char_layers": 4, "char_heads": 4, "char_embd": 128,
                "char_batch": 12, "char_lr": 2e-3, "char_budget_s": 240, "char_max_steps": 20_000, "probe_steps": 20,
                "eval_windows": 1024, "evals": 6, "log_every": 25, "sample_chars": 400, "bpe_block": 64,
                "bpe_budget_s": 60, "mlm_seq": 128, "mlm_val_rows": 256, "stats_rows": 1024, "bert_hidden": 128,
                "bert_layers": 4, "bert_heads": 4, "mlm_max_steps": 5000, "mlm_batch": 16, "mlm_lr": 1e-3,
                "mlm_budget_s": 130, "t5_seq": 128, "t5_chars_per_play": 10_000_000, "t5_target_len": 32,
                "t5_val_examples": 256, "t5_d_model": 128, "t5_layers": 2, "t5_max_steps": 5000, "t5_batch": 32,
                "t5_lr": 1e-3, "t5_budget_s": 60, "ft_seq": 128, "ft_train": 1280, "ft_test": 600, "ft_steps": 240,
                "ft_batch": 16, "ft_lr": 1e-3, "ft_lr_pretrained": 5e-5},
        "gpu": {"matmul_size": 8192, "matmul_repeats": 10, "bpe_vocab": 4096, "bpe_train_chars": 10_000_000,
                "bpe_encode_chars": 10_000_000, "char_block": 256, "char_layers": 6, "char_heads": 6, "char_embd": 384,
                "char_batch": 64, "char_lr": 1e-3, "char_budget_s": 150, "char_max_steps": 5000, "probe_steps": 20,
                "eval_windows": 2048, "evals": 8, "log_every": 25, "sample_chars": 600, "bpe_block": 256,
                "bpe_budget_s": 90, "mlm_seq": 128, "mlm_val_rows": 1024, "stats_rows": 4096, "bert_hidden": 256,
                "bert_layers": 4, "bert_heads": 4, "mlm_max_steps": 4000, "mlm_batch": 64, "mlm_lr": 5e-4,
                "mlm_budget_s": 90, "t5_seq": 128, "t5_chars_per_play": 10_000_000, "t5_target_len": 32,
                "t5_val_examples": 512, "t5_d_model": 256, "t5_layers": 4, "t5_max_steps": 3000, "t5_batch": 64,
                "t5_lr": 5e-4, "t5_budget_s": 60, "ft_seq": 256, "ft_train": 8000, "ft_test": 2000, "ft_steps": 500,
                "ft_batch": 16, "ft_lr": 3e-4, "ft_lr_pretrained": 3e-5},
    },
    "ch04_tools_data": {
        "smoke": {"imdb_rows": 4000, "bpe_vocab": 4000, "grid_images": 8,
                  "loader_batches": 10, "loader_workers": [0, 2], "batch_sizes": [32, 128]},
        "cpu": {"imdb_rows": None, "bpe_vocab": 16000, "grid_images": 10,
                "loader_batches": 40, "loader_workers": [0, 1, 2], "batch_sizes": [32, 256]},
        "gpu": {"imdb_rows": None, "bpe_vocab": 16000, "grid_images": 10,
                "loader_batches": 50, "loader_workers": [0, 2, 4], "batch_sizes": [32, 256]},
    },
    "ch06_text": {
        # classification: reviews used (None = the whole split), curve sizes below n_train, encoder tokens,
        # fine-tuning; CNN/LSTM vocabulary and words; generation; the Shakespeare char-GPT.
        "smoke": {"n_train": 200, "n_val": 100, "n_test": 200, "curve_sizes": [100], "max_len": 64,
                  "batch_size": 16, "eval_batch_size": 64, "ft_lrs": [1e-4], "ft_epochs": 1,
                  "vocab_size": 5000, "nn_max_words": 64, "nn_epochs": 2,
                  "gen_prompts": 2, "gen_samples": 2, "gen_max_new_tokens": 12, "beam_width": 3, "ppl_chars": 1500,
                  "gpt_block": 64, "gpt_layers": 2, "gpt_width": 64, "gpt_batch": 16, "gpt_steps": 80},
        "cpu": {"n_train": 2000, "n_val": 500, "n_test": 2000, "curve_sizes": [250, 500], "max_len": 256,
                "batch_size": 16, "eval_batch_size": 32, "ft_lrs": [5e-5, 1e-4], "ft_epochs": 1,
                "vocab_size": 20000, "nn_max_words": 256, "nn_epochs": 5,
                "gen_prompts": 3, "gen_samples": 4, "gen_max_new_tokens": 48, "beam_width": 4, "ppl_chars": 20000,
                "gpt_block": 128, "gpt_layers": 4, "gpt_width": 128, "gpt_batch": 16, "gpt_steps": 600},
        "gpu": {"n_train": None, "n_val": None, "n_test": None, "curve_sizes": [1000, 5000], "max_len": 512,
                "batch_size": 32, "eval_batch_size": 128, "ft_lrs": [2e-5, 3e-5, 5e-5], "ft_epochs": 2,
                "vocab_size": 30000, "nn_max_words": 400, "nn_epochs": 5,
                "gen_prompts": 3, "gen_samples": 8, "gen_max_new_tokens": 64, "beam_width": 4, "ppl_chars": 100000,
                "gpt_block": 256, "gpt_layers": 6, "gpt_width": 384, "gpt_batch": 64, "gpt_steps": 3000},
    },
}


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}. Valid profiles: {', '.join(PROFILES)} "
                         "(set PROFILE in the notebook's parameters cell, or `make course PROFILE=smoke`).")
    return profile


def sizes(chapter: str, profile: str) -> SimpleNamespace:
    """The sizes for one chapter in one profile, as attributes (``S.max_steps``)."""
    check_profile(profile)
    if chapter not in SIZES:
        raise KeyError(f"No sizes for chapter {chapter!r}. Known chapters: {', '.join(sorted(SIZES))} "
                       "(add a table to bigmodel_helpers/profiles.py).")
    return SimpleNamespace(**SIZES[chapter][profile])
