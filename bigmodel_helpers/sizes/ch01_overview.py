"""Chapter 1 (large models by the numbers): only the measurements scale with the profile."""

CPU = {
    "matmul_size": 2048,    # n of the n x n matrix multiply that measures this machine's FLOP/s
    "matmul_repeats": 10,   # timed repeats of it (the best one is reported)
    "act_seq": 256,         # tokens per sequence in the measured AdamW step (activation memory)
    "act_batch": 4,         # sequences in that step
}
SMOKE = CPU | {"matmul_size": 512, "matmul_repeats": 20, "act_seq": 128, "act_batch": 2}
GPU = CPU | {"matmul_size": 8192}   # a GPU needs big matrices to reach its peak
