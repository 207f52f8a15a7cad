"""Chapter 11 (ethics): membership inference, DP-SGD from scratch and with Opacus, federated averaging, bias probes."""

CPU = {
    # membership inference
    "mia_members": 1000,        # MNIST training images the attacked model sees (its members)
    "mia_nonmembers": 10000,    # held-out images scored as non-members: 0.1 % FPR = 10 of them
    "mia_epochs": 60,           # passes over the members (long enough to overfit)
    "mia_hidden": 256,          # hidden units of the attacked MLP (and its shadows)
    "shadows": 16,              # shadow models of the likelihood-ratio attack (LiRA, offline)
    "bootstrap": 200,           # bootstrap resamples for the attack's intervals
    # DP-SGD
    "scratch_steps": 150,       # steps of the from-scratch DP-SGD callback run (Trainer)
    "dp_epochs": 20,            # passes of Opacus DP-SGD over the 50,000 MNIST training images
    "dp_epsilons": [1.0, 3.0, 8.0],   # target epsilons of the privacy-utility curve (delta = 1e-5)
    "hooks_steps": 15,          # steps timed with Opacus's default per-sample hooks (slow path)
    "dp_mia_epochs": 60,        # passes of DP-SGD over the 1,000 members for the attacked DP model
    # federated averaging
    "fl_rounds": 150,           # communication rounds per configuration
    "fl_target": 0.93,          # test accuracy that "rounds to target" counts up to
    # bias probes
    "weat_permutations": 10000,  # random re-splits of the target words per WEAT p-value
    "imdb_train": 10000,        # IMDb training reviews for the TF-IDF classifier
    "imdb_test": 4000,          # IMDb test reviews scanned for gendered words
}
SMOKE = CPU | {"mia_members": 300, "mia_nonmembers": 2000, "mia_epochs": 30, "mia_hidden": 128, "shadows": 2,
               "bootstrap": 30, "scratch_steps": 10, "dp_epochs": 1, "dp_epsilons": [3.0], "hooks_steps": 3,
               "dp_mia_epochs": 10, "fl_rounds": 4, "fl_target": 0.8, "weat_permutations": 1000,
               "imdb_train": 2000, "imdb_test": 1000}
GPU = CPU | {"mia_members": 2500, "mia_epochs": 100, "mia_hidden": 512, "shadows": 32, "bootstrap": 1000,
             "scratch_steps": 1000, "dp_epochs": 60, "dp_epsilons": [0.5, 1.0, 2.0, 3.0, 8.0], "hooks_steps": 50,
             "dp_mia_epochs": 100, "fl_rounds": 300, "fl_target": 0.97, "weat_permutations": 100000,
             "imdb_train": None, "imdb_test": None}
