"""Chapter 2 (foundations from scratch): backprop on digits, an MNIST network, word2vec, a character LSTM."""

CPU = {
    # backpropagation by hand
    "gradcheck_hidden": 32,     # hidden units of the network whose gradients are checked numerically
    "mlp_epochs": 30,           # passes over the 8x8 digits for the NumPy MLP
    # feed-forward network on MNIST
    "ffn_hidden": 256,          # hidden units of the 784 -> hidden -> 10 network
    "ffn_steps": 1500,          # optimizer steps, the same for the explicit loop and the Trainer
    "ffn_batch": 64,            # images per step
    # word2vec (skip-gram with negative sampling) on IMDb reviews
    "w2v_reviews": 8000,        # training reviews used
    "w2v_dim": 100,             # embedding dimension
    "w2v_epochs": 3,            # passes over those reviews
    "w2v_batch": 2048,          # (centre, context) pairs per step of the from-scratch trainer
    # character-level LSTM on Shakespeare
    "lstm_hidden": 256,         # LSTM width
    "lstm_layers": 1,           # stacked LSTM layers
    "lstm_steps": 800,          # most optimizer steps (the time budget may stop it earlier)
    "lstm_batch": 32,           # windows per step
    "lstm_context": 100,        # characters per window
    "lstm_lr": 3e-3,            # peak learning rate (AdamW, warm-up then cosine)
    "lstm_eval_batches": 20,    # validation batches per evaluation
    "lstm_budget_s": 180,       # training seconds at most
}
SMOKE = CPU | {"gradcheck_hidden": 16, "mlp_epochs": 8, "ffn_hidden": 128, "ffn_steps": 300, "w2v_reviews": 1500,
               "w2v_dim": 50, "w2v_epochs": 1, "lstm_hidden": 128, "lstm_steps": 120, "lstm_context": 64,
               "lstm_eval_batches": 5, "lstm_budget_s": 20}
GPU = CPU | {"ffn_hidden": 512, "ffn_steps": 3000, "ffn_batch": 128, "w2v_reviews": 25000, "w2v_epochs": 5,
             "w2v_batch": 4096, "lstm_hidden": 512, "lstm_layers": 2, "lstm_steps": 3000, "lstm_batch": 64,
             "lstm_context": 128, "lstm_lr": 2e-3, "lstm_eval_batches": 50, "lstm_budget_s": 300}
