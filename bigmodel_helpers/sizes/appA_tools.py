# ruff: noqa: N999 -- the module is named after the notebook stem, appA_tools
"""Appendix A (tools): deploy the course's IMDb classifier -- export, ONNX Runtime, int8, latency, a server."""

CPU = {
    # the classifier to deploy (MiniLM fine-tuned for one pass)
    "n_train": 1200,            # training reviews of the quick fine-tune
    "n_test": 500,              # shared test reviews: parity, accuracy, int8 check
    "max_len": 128,             # tokens per review (longer reviews are cut)
    # the course GPT exported for generation
    "gpt_steps": 600,           # optimizer steps on Shakespeare characters (~80 steps per second here)
    "gen_tokens": 40,           # greedy tokens compared between eager and ONNX Runtime
    # latency matrix
    "latency_repeats": 15,      # timed calls per cell of the matrix (after one warm-up call)
    "engines": ["eager fp32", "torch.compile", "ORT fp32", "ORT int8"],   # torch.compile: ~25 s per shape
    # load test of the server
    "load_requests": 256,       # requests per (clients, batching) run
}
SMOKE = CPU | {"n_train": 96, "n_test": 96, "max_len": 64, "gpt_steps": 300, "gen_tokens": 20, "latency_repeats": 5,
               "engines": ["eager fp32", "ORT fp32", "ORT int8"], "load_requests": 64}
GPU = CPU | {"n_train": 8000, "n_test": 2000, "max_len": 256, "gpt_steps": 2000, "latency_repeats": 30,
             "load_requests": 1024}
