"""Chapter 10 (trends): a scaling-law ladder of character GPTs with a held-out largest rung, a mixture-of-experts
GPT against a dense one, parameter-efficient fine-tuning of MiniLM on IMDb, and the matmul rate of this machine."""

CPU = {
    "matmul_size": 2048,            # n x n matrix multiply timed in fp32 and bf16
    "matmul_repeats": 5,            # its timed repeats
    # the scaling ladder: [n_layer, n_embd, n_head] per rung, smallest first; the last rung is predicted, then trained
    # (about 25k ... 1.5M non-embedding parameters, the range the issue asks for)
    "ladder": [[2, 32, 2], [2, 48, 2], [3, 64, 4], [4, 96, 4], [4, 128, 4], [6, 144, 6]],
    "ladder_steps": 800,            # optimizer steps per rung: the same token budget for every rung
    "ladder_batch": 16,             # windows of 64 characters per step (16 x 64 x 800 = 819k characters per rung)
    "ladder_seeds": 1,              # training seeds per rung (more seeds: a tighter interval, more minutes)
    "ladder_evals": 8,              # validation points along each run (the L(N, D) fit uses them)
    "eval_windows": 512,            # fixed validation windows spread over the 4 held-out plays
    "bootstrap": 500,               # bootstrap resamples of the fit (windows and ladder points)
    # mixture of experts vs dense, same active parameters
    "moe_layers": 4,                # transformer blocks
    "moe_embd": 64,                 # width
    "moe_steps": 500,               # optimizer steps of each of the three runs
    # parameter-efficient fine-tuning of MiniLM on IMDb
    "peft_train": 224,              # training reviews (the shared split's head)
    "peft_test": 300,               # test reviews, the same for every method (paired test)
    "peft_epochs": 2,               # passes over the training reviews
    "peft_batch": 16,               # reviews per step
}
SMOKE = CPU | {"matmul_size": 512, "matmul_repeats": 3,
               "ladder": [[1, 8, 1], [1, 16, 2], [2, 16, 2], [2, 24, 2], [2, 32, 2], [2, 48, 2]],
               "ladder_steps": 30, "ladder_batch": 8, "ladder_evals": 3, "eval_windows": 48, "bootstrap": 60,
               "moe_layers": 2, "moe_embd": 32, "moe_steps": 20, "peft_train": 32, "peft_test": 48,
               "peft_epochs": 1, "peft_batch": 8}
# a 16 GB GPU: eight rungs up to ~57M non-embedding parameters, 24.6M characters per rung, three seeds
GPU = CPU | {"matmul_size": 8192, "matmul_repeats": 10,
             "ladder": [[2, 64, 2], [3, 96, 4], [4, 128, 4], [4, 192, 4], [6, 256, 8], [6, 384, 6], [8, 512, 8],
                        [8, 768, 12]],
             "ladder_steps": 6000, "ladder_batch": 64, "ladder_seeds": 3, "ladder_evals": 12,
             "eval_windows": 4096, "bootstrap": 2000, "moe_layers": 6, "moe_embd": 256, "moe_steps": 3000,
             "peft_train": 4000, "peft_test": 2000, "peft_epochs": 2, "peft_batch": 32}
