"""Chapter 1 (large models by the numbers): only the measurements scale with the profile."""

CPU = {
    "matmul_size": 2048,    # n of the n x n matrix multiply that measures this machine's FLOP/s
    "matmul_repeats": 10,   # timed repeats of it (the best one is reported)
    "act_seq": 256,         # tokens per sequence in the measured AdamW step (activation memory)
    "act_batch": 4,         # sequences in that step
    "mfu_layers": 4,        # layers of the course GPT whose AdamW step measures the MFU
    "mfu_width": 256,       # its width
    "mfu_vocab": 8192,      # its vocabulary
    "mfu_seq": 256,         # tokens per sequence (also its context length)
    "mfu_batch": 8,         # sequences per step
    "mfu_repeats": 5,       # timed AdamW steps (the median is used)
    "gen_prompt": 32,       # prompt tokens before generation (with and without the KV cache)
    "gen_tokens": 160,      # tokens generated each way
}
SMOKE = CPU | {"matmul_size": 512, "matmul_repeats": 20, "act_seq": 128, "act_batch": 2, "mfu_layers": 2,
               "mfu_width": 128, "mfu_vocab": 2048, "mfu_seq": 128, "mfu_batch": 4, "gen_prompt": 16,
               "gen_tokens": 48}
GPU = CPU | {"matmul_size": 8192,   # a GPU needs big matrices to reach its peak
             "mfu_layers": 12, "mfu_width": 768, "mfu_vocab": 50257, "mfu_seq": 1024, "mfu_batch": 4,
             "mfu_repeats": 10, "gen_prompt": 128, "gen_tokens": 512}
