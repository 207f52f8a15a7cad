"""Chapter 2 (foundations from scratch): backprop on digits, an MNIST network, word2vec, a character LSTM and a
character Transformer trained on the same time budget."""

CPU = {
    # backpropagation by hand
    "value_steps": 100,         # full-batch gradient-descent steps of the Value neuron and the Value MLP (iris)
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
    # character-level language models on Shakespeare: an LSTM (4.2) and a Transformer (6.3), same budget
    "char_budget_s": 120,       # training seconds for each of the two models (plan_steps turns it into steps)
    "char_max_steps": 5000,     # most optimizer steps, whatever the budget allows
    "char_batch": 32,           # windows per step
    "char_context": 100,        # characters per window
    "char_eval_batches": 20,    # validation batches per evaluation (the baselines are scored on the same ones)
    "lstm_hidden": 256,         # LSTM width
    "lstm_layers": 1,           # stacked LSTM layers
    "lstm_lr": 3e-3,            # peak learning rate of the LSTM (AdamW, warm-up then cosine)
    "tf_width": 128,            # Transformer width d_model (feed-forward 4x)
    "tf_layers": 4,             # Transformer blocks
}
SMOKE = CPU | {"value_steps": 10, "gradcheck_hidden": 16, "mlp_epochs": 8, "ffn_hidden": 128, "ffn_steps": 300, "w2v_reviews": 1500,
               "w2v_dim": 50, "w2v_epochs": 1, "char_budget_s": 5, "char_context": 64, "char_eval_batches": 5,
               "lstm_hidden": 128, "tf_width": 64, "tf_layers": 2}
GPU = CPU | {"ffn_hidden": 512, "ffn_steps": 3000, "ffn_batch": 128, "w2v_reviews": 25000, "w2v_epochs": 5,
             "w2v_batch": 4096, "char_budget_s": 300, "char_max_steps": 20000, "char_batch": 64,
             "char_context": 128, "char_eval_batches": 50, "lstm_hidden": 512, "lstm_layers": 2, "lstm_lr": 2e-3,
             "tf_width": 256, "tf_layers": 6}
