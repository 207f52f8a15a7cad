"""Chapter 4 (tools, environment, data): nothing is trained; the sizes say how much data is processed."""

CPU = {
    "imdb_rows": None,              # IMDb CSV rows cleaned and split (None: all 50,000)
    "bpe_vocab": 16000,             # vocabulary of the byte-level BPE trained on the training reviews
    "grid_images": 10,              # MNIST digits shown per augmentation grid
    "loader_batches": 40,           # batches timed per DataLoader setting
    "loader_rounds": 3,             # timed rounds over all settings (the spread of the speed-up comes from them)
    "loader_workers": [0, 1, 2],    # DataLoader worker processes compared
    "batch_sizes": [32, 256],       # batch sizes compared
}
SMOKE = CPU | {"imdb_rows": 4000, "bpe_vocab": 4000, "grid_images": 8, "loader_batches": 10, "loader_rounds": 2,
               "loader_workers": [0, 2], "batch_sizes": [32, 128]}
GPU = CPU | {"loader_batches": 50, "loader_workers": [0, 2, 4]}
