"""Chapter 4's environment report: the GPU facts (CUDA, cuDNN, compute capability, bf16) when torch sees a GPU,
a clean "no GPU" line otherwise, and the torch.compile support check. The GPU is faked by monkeypatching
torch.cuda, so these run on any machine."""

from types import SimpleNamespace

import torch

from bigmodel_helpers import env


def _fake_gpu(monkeypatch, bf16=True, cudnn=91002):
    props = SimpleNamespace(name="Fake GPU 16GB", major=8, minor=6, total_memory=16 * 2**30)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: props.name)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index=0: props)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: cudnn is not None)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: cudnn)


def test_report_names_cuda_cudnn_capability_and_bf16_of_a_gpu(monkeypatch):
    _fake_gpu(monkeypatch)
    report = env.environment_report()
    assert report["gpu"] == {"name": "Fake GPU 16GB", "cuda": "12.8", "cudnn": 91002, "capability": "8.6",
                             "memory_gib": 16.0, "bf16": True}
    assert report["device"] == "cuda"
    line = env.gpu_line(report)
    assert line == "GPU Fake GPU 16GB: compute capability 8.6, 16.0 GiB, CUDA 12.8, cuDNN 91002, bf16 yes"
    assert line in env.format_report(report)


def test_a_gpu_without_bf16_or_cudnn_says_so(monkeypatch):
    _fake_gpu(monkeypatch, bf16=False, cudnn=None)
    line = env.gpu_line(env.environment_report())
    assert "bf16 no" in line and "cuDNN not available" in line


def test_no_gpu_is_one_clean_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    report = env.environment_report()
    assert report["gpu"] is None and report["cuda_device"] is None
    assert env.gpu_line(report) == "no GPU: torch sees no CUDA device (a CPU-only torch)"
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    assert env.gpu_line(report) == "no GPU: torch sees no CUDA device (this torch is built for CUDA 12.8)"
    assert env.format_report(report).splitlines()[-1].startswith("no GPU")


def test_compiler_support_needs_a_cpp_compiler(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(env.shutil, "which", lambda name: None)
    ok, reason = env.compiler_support()
    assert not ok and "no C++ compiler" in reason
    monkeypatch.setattr(env.shutil, "which", lambda name: f"/usr/bin/{name}" if name == "g++" else None)
    ok, reason = env.compiler_support()
    assert ok and reason == "C++ compiler /usr/bin/g++"


def test_compiler_support_on_a_gpu_needs_triton(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(env.shutil, "which", lambda name: "/usr/bin/c++" if name == "c++" else None)
    monkeypatch.setattr(env.importlib.util, "find_spec", lambda name: None)
    ok, reason = env.compiler_support()
    assert not ok and "triton" in reason
