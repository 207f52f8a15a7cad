"""Chapter 6 (text): IMDb classification from TF-IDF to fine-tuning, decoding strategies, a Shakespeare GPT."""

CPU = {
    # classification
    "n_train": 2000,            # training reviews (None: the whole split)
    "n_val": 500,               # validation reviews, for choices (learning rate, C)
    "n_test": 2000,             # test reviews, the same for every method
    "curve_sizes": [500],       # smaller training sets of the learning curve (n_train is added)
    "max_len": 128,             # encoder tokens per review (128: four equal-step fine-tuning runs fit a CPU)
    "batch_size": 16,           # reviews per fine-tuning step
    "eval_batch_size": 32,      # reviews per forward pass when only encoding
    "ft_lrs": [5e-5, 1e-4],     # fine-tuning learning rates tried (chosen on validation)
    "ft_epochs": 1,             # passes over the full training set (may be a fraction): every fine-tuning run takes as many steps
    "vocab_size": 20000,        # words kept for the CNN and LSTM trained from scratch
    "nn_max_words": 256,        # words per review for those networks
    "nn_epochs": 5,             # their passes over the training reviews
    # the causal LLM as a classifier (zero-shot and few-shot)
    "llm_reviews": 100,         # test reviews it classifies (the first of the shared test subset)
    "llm_review_tokens": 160,   # LLM tokens kept per review (head + tail)
    "llm_shot_tokens": 64,      # LLM tokens kept per solved example of the few-shot prompt
    # generation
    "gen_prompts": 3,           # prompts for the pretrained causal LM
    "gen_samples": 4,           # samples per prompt for the sampling strategies
    "gen_max_new_tokens": 48,   # tokens generated per sample
    "beam_width": 4,            # beams of the from-scratch beam search
    "ppl_chars": 20000,         # characters of each text whose perplexity is measured
    "long_gen_tokens": 200,     # tokens of each long generation (greedy loops, repetition penalty)
    # the character-level Shakespeare GPT: chapter 3's when saved; these sizes are for the fallback
    "gpt_val_windows": 256,     # validation windows spread over the held-out plays
    "gpt_block": 128,           # context length
    "gpt_layers": 4,            # transformer blocks
    "gpt_width": 128,           # width
    "gpt_batch": 16,            # windows per step
    "gpt_steps": 600,           # optimizer steps
}
SMOKE = CPU | {"n_train": 200, "n_val": 100, "n_test": 200, "curve_sizes": [100], "max_len": 64, "ft_epochs": 0.5,
               "eval_batch_size": 64, "ft_lrs": [1e-4], "vocab_size": 5000, "nn_max_words": 64, "nn_epochs": 2,
               "gen_prompts": 1, "gen_samples": 2, "gen_max_new_tokens": 12, "beam_width": 3, "ppl_chars": 1500,
               "llm_reviews": 8, "llm_review_tokens": 48, "llm_shot_tokens": 24, "long_gen_tokens": 24,
               "gpt_val_windows": 32, "gpt_block": 64, "gpt_layers": 2, "gpt_width": 64, "gpt_steps": 80}
GPU = CPU | {"n_train": None, "n_val": None, "n_test": None, "curve_sizes": [1000, 5000], "max_len": 512,
             "batch_size": 32, "eval_batch_size": 128, "ft_lrs": [2e-5, 3e-5, 5e-5], "ft_epochs": 2,
             "vocab_size": 30000, "nn_max_words": 400, "gen_samples": 8, "gen_max_new_tokens": 64,
             "ppl_chars": 100000, "llm_reviews": 2000, "llm_review_tokens": 400, "llm_shot_tokens": 96,
             "long_gen_tokens": 400, "gpt_val_windows": 1024, "gpt_block": 256, "gpt_layers": 6, "gpt_width": 384, "gpt_batch": 64,
             "gpt_steps": 3000}
