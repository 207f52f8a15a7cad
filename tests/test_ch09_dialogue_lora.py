"""Behaviour of bigmodel_helpers.models.lora (chapter 9's LoRA from scratch)."""

import pytest
import torch
from torch import nn

from bigmodel_helpers.models.lora import LoRALinear, inject_lora, lora_state_dict, merge_lora


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj, self.v_proj, self.out = nn.Linear(8, 8), nn.Linear(8, 8, bias=False), nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.relu(self.q_proj(x)) + self.v_proj(x))


def test_starts_equal_to_base_and_only_adapter_trains():
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    x = torch.randn(4, 6)
    expected = base(x)
    layer = LoRALinear(base, r=2, alpha=4)
    assert torch.equal(layer(x), expected)
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]
    assert layer.scaling == 2.0


def test_forward_is_base_plus_scaled_low_rank_update():
    torch.manual_seed(1)
    layer = LoRALinear(nn.Linear(6, 5), r=3, alpha=6)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(2, 6)
    manual = x @ layer.base.weight.T + layer.base.bias + 2.0 * (x @ layer.lora_A.T @ layer.lora_B.T)
    assert torch.allclose(layer(x), manual, atol=1e-6)
    assert not torch.allclose(layer(x), layer.base(x))


def test_inject_freezes_the_rest_and_merge_keeps_outputs():
    torch.manual_seed(2)
    model = Tiny()
    x = torch.randn(5, 8)
    names = inject_lora(model, ["q_proj", "v_proj"], r=2, alpha=4)
    assert names == ["q_proj", "v_proj"]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"q_proj.lora_A", "q_proj.lora_B", "v_proj.lora_A", "v_proj.lora_B"}
    with torch.no_grad():
        for n in names:
            model.get_submodule(n).lora_B.normal_()
    before = model(x)
    assert set(lora_state_dict(model)) == trainable
    assert merge_lora(model) == names
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert type(model.v_proj) is nn.Linear and model.v_proj.bias is None
    assert torch.allclose(model(x), before, atol=1e-5)


def test_gradients_reach_A_and_B():
    torch.manual_seed(3)
    layer = LoRALinear(nn.Linear(4, 4), r=2, alpha=2)
    layer(torch.randn(3, 4)).sum().backward()
    assert layer.lora_B.grad.abs().sum() > 0          # B gets a gradient even at zero
    assert layer.lora_A.grad.abs().sum() == 0         # A's gradient is zero while B is zero
    assert layer.base.weight.grad is None


def test_clear_errors():
    with pytest.raises(TypeError):
        LoRALinear(nn.Conv1d(2, 2, 1), r=2, alpha=2)
    with pytest.raises(ValueError):
        LoRALinear(nn.Linear(2, 2), r=0, alpha=2)
    with pytest.raises(ValueError, match="No nn.Linear named"):
        inject_lora(Tiny(), ["k_proj"], r=2, alpha=2)


def test_cost_counts_a_tied_tensor_once_and_checks_its_arguments():
    from bigmodel_helpers.models.lora_cost import _unique_bytes, measure
    shared = torch.zeros(10, 4)
    assert _unique_bytes([shared, shared, torch.zeros(3)]) == 10 * 4 * 4 + 3 * 4
    with pytest.raises(ValueError, match="mode"):
        measure("half", batch=1, seq=1, steps=1)
    with pytest.raises(ValueError, match=">= 1"):
        measure("lora", batch=0, seq=1, steps=1)


def test_cost_processes_meet_at_the_barrier_then_take_turns(tmp_path):
    import threading
    import time

    from bigmodel_helpers.models import lora_cost
    if lora_cost.fcntl is None:
        pytest.skip("no fcntl (Windows): measure_both runs the modes one after the other")
    lock = str(tmp_path / "steps.lock")
    (tmp_path / "ready.1").touch()                   # another process is ready: the barrier of 2 opens
    lora_cost.wait_for_all(lock, parties=2, timeout=1)
    alone = tmp_path / "alone"
    alone.mkdir()
    with pytest.raises(TimeoutError):                # nobody else comes: a clear error, not a hang
        lora_cost.wait_for_all(str(alone / "steps.lock"), parties=2, timeout=0.2)
    order = []

    def turn(name):
        with lora_cost.exclusive(lock):
            order.append(f"{name} in")
            time.sleep(0.2)
            order.append(f"{name} out")

    threads = [threading.Thread(target=turn, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert order == ["a in", "a out", "b in", "b out"]   # never both inside


def test_measure_both_reports_a_failed_process_instead_of_hanging():
    import subprocess
    import time

    from bigmodel_helpers.models.lora_cost import measure_both
    t0 = time.monotonic()
    with pytest.raises(subprocess.CalledProcessError, match="returned non-zero"):
        measure_both(batch=0, seq=1, steps=1, timeout=120)
    assert time.monotonic() - t0 < 60
