"""Chapter 3 (pretraining): a tokenizer, a character GPT and a BPE GPT, BERT's MLM, T5's span corruption,
then fine-tuning on IMDb. Each model trains for a time budget (``*_budget_s``); the number of steps that fit
is measured by a short probe (``bigmodel_helpers.train.plan_steps``)."""

CPU = {
    "matmul_size": 2048,            # n x n matrix multiply that measures the FLOP/s the MFU is relative to
    "matmul_repeats": 5,            # its timed repeats
    # tokenizer
    "bpe_vocab": 2048,              # BPE vocabulary size trained on the training plays
    "bpe_train_chars": 10_000_000,  # characters the BPE trainer reads (10M is more than the training plays: all of them)
    "bpe_encode_chars": 10_000_000, # characters encoded to measure characters per token
    "stage_steps": 400,             # training steps of each of the five step-by-step models (section 2)
    # the character GPT (nanoGPT's CPU recipe: 4 layers, 4 heads, 128 wide, block 64, batch 12)
    "char_block": 64,               # context length in characters
    "char_layers": 4,               # transformer blocks
    "char_heads": 4,                # attention heads per block
    "char_embd": 128,               # width
    "char_batch": 12,               # windows per step
    "char_lr": 2e-3,                # peak learning rate
    "char_dropout": 0.0,            # dropout (a 4-minute run does not overfit; nanoGPT's GPU recipe needs 0.2)
    "char_target_loss": 1.9,        # the validation loss the cpu run aims at within its budget (None: no target)
    "char_budget_s": 240,           # training seconds
    "char_max_steps": 20_000,       # a cap the budget normally reaches first
    "probe_steps": 20,              # steps timed to plan how many fit in a budget
    "eval_windows": 1024,           # fixed validation windows spread over the held-out plays
    "evals": 6,                     # evaluations during training
    "log_every": 25,                # steps per logged row
    "sample_chars": 400,            # characters generated from each model
    # the same GPT on BPE tokens
    "bpe_block": 64,                # context length in BPE tokens
    "bpe_budget_s": 60,             # training seconds
    # real GPT-2 weights next to ours
    "gpt2_name": None,              # hub model loaded into our GPT with from_hf (None: no hub, the stand-in runs)
    "gpt2_segments": 8,             # stretches of the held-out plays every model is scored on
    "gpt2_segment_chars": 2000,     # characters per stretch
    # BERT masked-language model
    "mlm_seq": 128,                 # tokens per row
    "mlm_val_rows": 256,            # validation rows
    "stats_rows": 1024,             # rows used to check the 80/10/10 masking statistics
    "bert_hidden": 128,             # width
    "bert_layers": 4,               # encoder layers
    "bert_heads": 4,                # attention heads
    "mlm_max_steps": 5000,          # a cap the budget normally reaches first
    "mlm_batch": 16,                # rows per step
    "mlm_lr": 1e-3,                 # peak learning rate
    "mlm_budget_s": 130,            # training seconds
    # T5 span corruption and genre-as-text
    "t5_seq": 128,                  # source tokens per example
    "t5_chars_per_play": 10_000_000,  # characters read from each play (all of it)
    "t5_target_len": 32,            # target tokens at most
    "t5_val_examples": 256,         # validation examples
    "t5_d_model": 128,              # width
    "t5_layers": 2,                 # encoder layers (and as many decoder layers)
    "t5_max_steps": 5000,           # a cap the budget normally reaches first
    "t5_batch": 32,                 # examples per step
    "t5_lr": 1e-3,                  # peak learning rate
    "t5_budget_s": 60,              # training seconds
    # fine-tuning on IMDb
    "ft_seq": 128,                  # tokens per review (the rest is cut)
    "ft_train": 1280,               # training reviews
    "ft_test": 600,                 # test reviews, the same for every model
    "ft_steps": 240,                # optimizer steps per model
    "ft_batch": 16,                 # reviews per step
    "ft_lr": 1e-3,                  # learning rate of the small BERTs (random init, own pretraining)
    "ft_lr_pretrained": 5e-5,       # learning rate of the pretrained encoder
    # in-domain pretraining: one MLM run on IMDb training reviews, its weights copied along the way
    "imdb_mlm_reviews": 4000,       # training reviews read (unlabelled), more than the budget gets through
    "imdb_mlm_val_reviews": 300,    # validation reviews for the masked-token accuracy
    "imdb_mlm_budget_s": 130,       # training seconds of the whole run (= mlm_budget_s: equal compute to Shakespeare)
    "imdb_mlm_max_steps": 5000,     # a cap the budget normally reaches first
    "imdb_snapshot_fractions": (0, 0.25, 0.5, 1),  # where the weights are copied (0: random init)
    "imdb_tok_reviews": 4000,       # training reviews an in-domain BPE is trained on (to measure coverage)
}
SMOKE = CPU | {"stage_steps": 20, "char_target_loss": None, "matmul_size": 512, "matmul_repeats": 3, "bpe_vocab": 512, "bpe_train_chars": 300_000,
               "bpe_encode_chars": 300_000, "char_layers": 2, "char_embd": 64, "char_budget_s": 6,
               "char_max_steps": 200, "probe_steps": 5, "eval_windows": 64, "evals": 2, "log_every": 5,
               "sample_chars": 80, "bpe_budget_s": 4, "mlm_seq": 64, "mlm_val_rows": 64, "stats_rows": 256,
               "bert_hidden": 64, "bert_layers": 2, "bert_heads": 2, "mlm_max_steps": 30, "mlm_budget_s": 6,
               "t5_seq": 64, "t5_chars_per_play": 8_000, "t5_target_len": 24, "t5_val_examples": 64,
               "t5_d_model": 64, "t5_max_steps": 20, "t5_batch": 16, "t5_budget_s": 5, "ft_seq": 32,
               "ft_train": 32, "ft_test": 32, "ft_steps": 4, "ft_batch": 8, "ft_lr": 3e-4,
               "gpt2_segments": 2, "gpt2_segment_chars": 300, "imdb_mlm_reviews": 150, "imdb_mlm_val_reviews": 20,
               "imdb_mlm_budget_s": 3, "imdb_mlm_max_steps": 30, "imdb_snapshot_fractions": (0, 0.5, 1), "imdb_tok_reviews": 150}
# nanoGPT's GPU Shakespeare recipe: 6 layers, 6 heads, 384 wide, block 256, batch 64.
GPU = CPU | {"stage_steps": 2000, "char_dropout": 0.2, "char_target_loss": None, "matmul_size": 8192, "matmul_repeats": 10, "bpe_vocab": 4096, "char_block": 256, "char_layers": 6,
             "char_heads": 6, "char_embd": 384, "char_batch": 64, "char_lr": 1e-3, "char_budget_s": 150,
             "char_max_steps": 5000, "eval_windows": 2048, "evals": 8, "sample_chars": 600, "bpe_block": 256,
             "bpe_budget_s": 90, "mlm_val_rows": 1024, "stats_rows": 4096, "bert_hidden": 256,
             "mlm_max_steps": 4000, "mlm_batch": 64, "mlm_lr": 5e-4, "mlm_budget_s": 90, "t5_val_examples": 512,
             "t5_d_model": 256, "t5_layers": 4, "t5_max_steps": 3000, "t5_batch": 64, "t5_lr": 5e-4,
             "ft_seq": 256, "ft_train": 8000, "ft_test": 2000, "ft_steps": 500, "ft_lr": 3e-4,
             "ft_lr_pretrained": 3e-5, "gpt2_name": "gpt2", "gpt2_segments": 16, "gpt2_segment_chars": 4000,
             "imdb_mlm_reviews": 25_000, "imdb_mlm_val_reviews": 1000, "imdb_mlm_budget_s": 600, "imdb_mlm_max_steps": 20_000,
             "imdb_snapshot_fractions": (0, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1), "imdb_tok_reviews": 25_000}
