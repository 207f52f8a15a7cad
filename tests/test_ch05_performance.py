"""Chapter 5's helper: the DDP demo under torchrun equals one process on the same global batch."""

import torch
from safetensors.torch import load_file, save_file

from bigmodel_helpers import ddp_demo
from bigmodel_helpers.train import launch_torchrun


def fake_mnist(path, n=64):
    g = torch.Generator().manual_seed(0)
    save_file({"x": torch.rand(n, 784, generator=g), "y": torch.randint(0, 10, (n,), generator=g)}, str(path))


def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    data = tmp_path / "data.safetensors"
    fake_mnist(data)
    launch_torchrun(ddp_demo.__file__, nproc=2, env={"OMP_NUM_THREADS": "1"},
                    args=["--data", data, "--out", tmp_path / "w", "--max-steps", 6, "--batch-size", 4])
    rank0, rank1 = (load_file(str(tmp_path / f"w.rank{r}.safetensors")) for r in (0, 1))
    single = ddp_demo.make_trainer(data, max_steps=6, batch_size=8)
    single.fit()
    for name, value in single.model.state_dict().items():
        assert torch.equal(rank0[name], rank1[name]), "DDP keeps both processes' weights identical"
        torch.testing.assert_close(rank0[name], value, atol=1e-5, rtol=1e-4)
    untrained = ddp_demo.make_mlp(0).state_dict()
    assert not torch.allclose(rank0["0.weight"], untrained["0.weight"]), "it trained"


def test_a_different_global_batch_gives_different_weights(tmp_path):
    """The equality above is not vacuous: half the global batch trains to other weights."""
    data = tmp_path / "data.safetensors"
    fake_mnist(data)
    a, b = ddp_demo.make_trainer(data, 6, 8), ddp_demo.make_trainer(data, 6, 4)
    a.fit(), b.fit()
    assert not torch.allclose(a.model[0].weight, b.model[0].weight, atol=1e-5)


def test_fsdp_shards_hold_half_the_bytes_and_train_like_one_process(tmp_path):
    """The same launch runs FSDP2 (fully_shard) after DDP: each of 2 ranks holds half of the parameters,
    gradients and Adam moments, and the gathered weights equal one unsharded process on the same batches."""
    import json

    import pytest
    data = tmp_path / "data.safetensors"
    fake_mnist(data)
    report_path = tmp_path / "fsdp.json"
    launch_torchrun(ddp_demo.__file__, nproc=2, env={"OMP_NUM_THREADS": "1"},
                    args=["--data", data, "--out", tmp_path / "w", "--max-steps", 2, "--batch-size", 4,
                          "--fsdp-json", report_path, "--fsdp-steps", 3])
    report = json.loads(report_path.read_text())
    if report["status"].startswith("torch.distributed.fsdp.fully_shard is not available"):
        pytest.skip(report["status"])
    assert report["status"] == "ok", report["status"]
    for kind in ("param", "grad", "adam"):
        assert report[f"fsdp_{kind}_bytes"] * 2 == report[f"replica_{kind}_bytes"], kind
    assert report["replica_param_bytes"] == 4 * report["parameters"]
    assert report["max_abs_diff"] < 1e-5
