"""Chapter 9 (dialogue): intents, slots, state tracking, SmolLM2 fine-tuned with LoRA on chit-chat."""

CPU = {
    # part 1: understanding
    "intent_cap": 80,           # utterances kept per intent (trivia has 261, the smallest kept intent 22)
    "oos_n": 300,               # chit-chat turns used as out-of-scope utterances (validation + test)
    "encoder_batch": 64,        # utterances per MiniLM forward pass
    "intent_ft_steps": 150,     # steps of 16 utterances fine-tuning MiniLM on the intents (about 5.5 epochs)
    "slot_n_train": 1200,       # template utterances the slot filler trains on
    "slot_n_test": 300,         # template utterances it is scored on (seen templates, and new templates)
    "slot_steps": 100,          # steps of 16 utterances training the slot filler
    # part 2: the chat model
    "max_turn_words": 24,       # words kept of each turn (the model sees about 1.3 tokens per word)
    "n_train_pairs": 2000,      # (context, reply) training pairs, from the training conversations
    "batch_size": 8,            # pairs per LoRA step
    "ft_steps": 60,             # LoRA optimizer steps (about 2.6 s each on 2 cores at these lengths)
    "ft_eval_every": 20,        # steps between validation losses during the LoRA fine-tuning
    "n_eval": 50,               # held-out pairs scored (perplexity, hits@1/20)
    "n_gen": 24,                # held-out contexts answered by greedy decoding (distinct-n, length)
    "gen_max_new_tokens": 24,   # tokens generated per reply
    "cost_steps": 3,            # timed steps for LoRA and for full fine-tuning (after one warm-up step)
    "shakespeare_lines": 40,    # Shakespeare lines of the forgetting check
    "sweep_ranks": (2, 8, 32),  # LoRA ranks of the rank sweep
    "sweep_steps": 10,          # LoRA steps per rank in the sweep (a short budget: the sweep compares costs)
}
SMOKE = CPU | {"intent_cap": 40, "oos_n": 80, "intent_ft_steps": 16, "slot_n_train": 240, "slot_n_test": 60,
               "slot_steps": 16, "max_turn_words": 12, "n_train_pairs": 200, "batch_size": 4,
               "ft_steps": 4, "ft_eval_every": 4, "n_eval": 6, "n_gen": 4, "gen_max_new_tokens": 8, "cost_steps": 1,
               "shakespeare_lines": 8, "sweep_ranks": (2, 8), "sweep_steps": 2}
GPU = CPU | {"intent_cap": 300, "oos_n": 600, "encoder_batch": 256, "intent_ft_steps": 600, "slot_n_train": 6000,
             "slot_n_test": 1000, "slot_steps": 600, "max_turn_words": 64, "n_train_pairs": 40000,
             "batch_size": 32, "ft_steps": 2000, "ft_eval_every": 250, "n_eval": 1000, "n_gen": 200, "gen_max_new_tokens": 48,
             "cost_steps": 10, "shakespeare_lines": 400, "sweep_steps": 300}
