"""Chapter 5 (performance): training tricks on MNIST, then the IMDb classifier made fast and small."""

CPU = {
    # Part 1: training tricks on MNIST (a small MLP)
    "mnist_train": 10000,      # MNIST training images used by the schedule / DDP experiments
    "mnist_test": 5000,        # MNIST test images every experiment is scored on
    "reg_train": 1000,         # training images of the regularisation experiment (small, so it overfits)
    "reg_steps": 600,          # optimizer steps per regularisation variant
    "init_steps": 100,         # optimizer steps per initialisation scheme
    "sched_steps": 300,        # optimizer steps per learning-rate schedule (the same budget for each)
    "sched_seeds": [0, 1, 2],  # seeds per schedule (mean ± sd)
    "ckpt_depth": 16,          # layers of the MLP whose activations are checkpointed
    "ckpt_batch": 512,         # images per forward/backward when measuring checkpointing
    "compile_steps": [200],    # steady-state steps timed after torch.compile ([]: the compile demo is skipped)
    "ddp_steps": 40,           # optimizer steps of the DDP run (and of the single-process run it must equal)
    # Part 2: the IMDb classifier
    "n_train": 1000,           # training reviews for fine-tuning (the course's shared split, first n)
    "n_test": 500,             # test reviews every row of the compression table is scored on
    "n_val": 200,              # validation reviews that score the attention heads before pruning
    "max_len": 128,            # tokens per review (longer reviews are cut)
    "ft_lr": 1e-4,             # fine-tuning learning rate (ch06 chose it on validation)
    "ft_epochs": 1,            # passes over the training reviews for the fp32 teacher
    "recovery_steps": 30,      # fine-tuning steps after pruning (masks re-applied every step)
    "student_epochs": 2,       # passes of the distilled (and the labels-only) student
    "student_seeds": [0, 1, 2],  # seeds of each student (mean ± sd)
    "lat_repeats_b1": 30,      # timed calls at batch 1
    "lat_repeats_b32": 5,      # timed calls at batch 32
}
SMOKE = CPU | {"mnist_train": 2000, "mnist_test": 1000, "reg_train": 500, "reg_steps": 150, "init_steps": 30,
               "sched_steps": 60, "sched_seeds": [0, 1], "ckpt_depth": 8, "ckpt_batch": 128, "compile_steps": [],
               "ddp_steps": 10, "n_train": 96, "n_test": 64, "n_val": 32, "max_len": 32, "recovery_steps": 4,
               "student_epochs": 1,
               "student_seeds": [0], "lat_repeats_b1": 5, "lat_repeats_b32": 2}
GPU = CPU | {"mnist_train": 50000, "mnist_test": 10000, "reg_steps": 1500, "init_steps": 300, "sched_steps": 1500,
             "sched_seeds": [0, 1, 2, 3, 4], "ckpt_depth": 32, "ckpt_batch": 4096, "compile_steps": [1000],
             "ddp_steps": 200, "n_train": None, "n_test": None, "n_val": 2000, "max_len": 256, "ft_lr": 3e-5, "ft_epochs": 2,
             "recovery_steps": 300, "student_epochs": 3, "lat_repeats_b1": 100, "lat_repeats_b32": 20}
