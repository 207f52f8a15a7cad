"""Chapter 4 (tools, environment, data): how much data is processed, and the small models trained on it."""

CPU = {
    "imdb_rows": None,              # IMDb CSV rows cleaned and split (None: all 50,000)
    "compile_backend": "inductor",  # torch.compile backend: inductor generates C++/Triton kernels (compiles ~15 s here)
    "compile_rounds": 5,            # alternating eager/compiled timing rounds of 20 calls each
    "leak_train_rows": None,        # split-first training rows the leak classifiers train on (None: all)
    "leak_test_rows": None,         # split-first test rows besides the leaked ones they are scored on (None: all)
    "bpe_scratch_reviews": 500,     # training reviews the from-scratch BPE merge loop learns from
    "bpe_scratch_merges": 400,      # merges it learns (plain Python: about 15 s on 2 cores)
    "bpe_vocab": 16000,             # vocabulary of the byte-level BPE trained on the training reviews
    "bpe_sweep": [500, 2000, 8000, 16000],  # BPE vocabulary sizes compared by tokens per review
    "grid_images": 10,              # MNIST digits shown per augmentation grid
    "mnist_steps": 1500,            # training steps of 128 images per MNIST MLP (about 4 epochs)
    "mnist_seeds": [0, 1],          # seeds; each trains the four normalisation x augmentation variants
    "loader_batches": 40,           # batches timed per DataLoader setting
    "loader_rounds": 3,             # timed rounds over all settings (the spread of the speed-up comes from them)
    "loader_workers": [0, 1, 2],    # DataLoader worker processes compared
    "batch_sizes": [32, 256],       # batch sizes compared
}
SMOKE = CPU | {"imdb_rows": 4000, "compile_backend": "eager", "compile_rounds": 2, "leak_train_rows": 3000,
               "leak_test_rows": 1000, "bpe_scratch_reviews": 80, "bpe_scratch_merges": 120, "bpe_vocab": 4000,
               "bpe_sweep": [500, 1000, 2000, 4000], "grid_images": 8, "mnist_steps": 100, "mnist_seeds": [0],
               "loader_batches": 10, "loader_rounds": 2, "loader_workers": [0, 2], "batch_sizes": [32, 128]}
GPU = CPU | {"bpe_sweep": [500, 2000, 8000, 16000, 32000], "mnist_steps": 5000, "mnist_seeds": [0, 1, 2],
             "loader_batches": 50, "loader_workers": [0, 2, 4]}
