"""Unit tests of bigmodel_helpers.exercises: right answers pass, wrong ones fail with a useful verdict,
and no verdict ever prints the reference values."""

import numpy as np
import pytest
import torch

from bigmodel_helpers import exercises


@pytest.fixture
def lenient(monkeypatch):
    """Student-copy behaviour: failed checks return False instead of raising."""
    monkeypatch.setattr(exercises, "STRICT", False)


def softmax_reference(x):
    return torch.softmax(x, dim=-1)


def softmax_inputs(generator):
    return (torch.randn(3, 5, generator=generator) * 3,)


def manual_softmax(x):
    e = (x - x.max(-1, keepdim=True).values).exp()
    return e / e.sum(-1, keepdim=True)


def test_right_function_passes(lenient, capsys):
    assert exercises.check_function("softmax", manual_softmax, softmax_reference, softmax_inputs, seed=0)
    out = capsys.readouterr().out
    assert "softmax | passed" in out and "5 random trials" in out


def test_wrong_function_fails_with_index_and_hint_but_no_values(lenient, capsys):
    def wrong(x):   # normalises over the wrong axis
        e = x.exp()
        return e / e.sum(0, keepdim=True)

    assert not exercises.check_function("softmax", wrong, softmax_reference, softmax_inputs, seed=3,
                                        hint="normalise over the last dimension")
    out = capsys.readouterr().out
    assert "NOT passed" in out and "trial 1 of 5 (seed 3)" in out
    assert "max abs diff" in out and "first wrong index (" in out
    assert "hint: normalise over the last dimension" in out
    expected = softmax_reference(*softmax_inputs(torch.Generator().manual_seed(3)))
    for value in expected.flatten().tolist():
        for text in (f"{value:.3g}", f"{value:.4f}", repr(value)):
            assert text not in out, f"the verdict leaks a reference value {text}"


def test_check_value_never_prints_the_answer(lenient, capsys):
    assert not exercises.check_value("parameter count", 123_456_000, 124_439_808)
    assert not exercises.check_value("loss", 2.5, 2.302585092994046)
    out = capsys.readouterr().out
    for secret in ("124439808", "124_439_808", "124,439,808", "2.302", "2.30"):
        assert secret not in out
    assert out.count("NOT passed") == 2 and "relative error ~1e-" in out


def test_shape_and_dtype_mismatches_are_named(lenient, capsys):
    assert not exercises.check_function("t", lambda x: x.T, softmax_reference, softmax_inputs, seed=1)
    assert not exercises.check_function("d", lambda x: softmax_reference(x).double(), softmax_reference,
                                        softmax_inputs, seed=1)
    out = capsys.readouterr().out
    assert "shape mismatch: got (5, 3), expected (3, 5)" in out
    assert "dtype mismatch: got torch.float64, expected torch.float32" in out


def test_placeholder_is_not_done_yet_and_does_not_raise(lenient, capsys):
    def softmax(x):
        raise NotImplementedError("Exercise 1: write softmax")

    assert exercises.check_function("softmax", softmax, softmax_reference, softmax_inputs) is False
    assert exercises.check_value("answer", None, 3.0) is False
    out = capsys.readouterr().out
    assert "not done yet: Exercise 1: write softmax" in out and "not done yet: answer is still None" in out


def test_exception_in_learner_code_is_reported(lenient, capsys):
    assert not exercises.check_function("softmax", lambda x: x @ x, softmax_reference, softmax_inputs, seed=0)
    assert "your function raised RuntimeError" in capsys.readouterr().out


def test_strict_mode_raises_after_printing(monkeypatch, capsys):
    monkeypatch.setattr(exercises, "STRICT", True)
    with pytest.raises(exercises.ExerciseFailed):
        exercises.check_value("answer", 1.0, 2.0)
    with pytest.raises(AssertionError):   # ExerciseFailed is an AssertionError: CI sees a failed assertion
        exercises.check_function("softmax", lambda x: x, softmax_reference, softmax_inputs, seed=0)
    assert capsys.readouterr().out.count("NOT passed") == 2
    assert exercises.check_value("answer", 2.0, 2.0)   # a pass never raises


def test_structures_numbers_numpy_and_kwargs(lenient):
    def reference(a, scale=1.0):
        return {"sum": float(a.sum()) * scale, "parts": (a * scale, int(a.size))}

    def inputs(generator):
        return {"a": np.random.default_rng(generator.initial_seed()).normal(size=(2, 3)), "scale": 2.0}

    assert exercises.check_function("dict", reference, reference, inputs, trials=3, seed=0)
    assert not exercises.check_function("dict", lambda a, scale: reference(a, scale + 1), reference, inputs, seed=0)
    assert not exercises.check_function("ndarray vs tensor", lambda a, scale: {**reference(a, scale), "parts": (
        torch.from_numpy(a * scale), int(a.size))}, reference, inputs, seed=0)
    assert exercises.check_value("ints", (3, "abc"), (3, "abc"))
    assert not exercises.check_value("string", "ab", "abc")
    assert not exercises.check_value("length", [1, 2], [1, 2, 3])


def test_learner_cannot_corrupt_the_reference_inputs(lenient):
    def in_place(x):
        x.mul_(0)   # mutates its argument; the reference must still see the original input
        return softmax_reference(x)

    assert not exercises.check_function("in place", in_place, softmax_reference, softmax_inputs, seed=0)


def test_tolerances_and_integers(lenient):
    x = torch.linspace(0, 1, 10)
    assert exercises.check_value("close", x + 1e-7, x)
    assert not exercises.check_value("far", x + 1e-3, x)
    assert exercises.check_value("loose", x + 1e-3, x, atol=1e-2)
    assert not exercises.check_value("ints", torch.tensor([1, 2, 4]), torch.tensor([1, 2, 3]), atol=10)
    assert exercises.check_value("nan where expected", torch.tensor([float("nan"), 1.0]),
                                 torch.tensor([float("nan"), 1.0]))
    assert not exercises.check_value("nan where not expected", torch.tensor([float("nan"), 1.0]),
                                     torch.tensor([0.0, 1.0]))


def test_compare_prints_karpathy_line(capsys):
    a = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    assert exercises.compare("exact", a, a.clone())
    assert exercises.compare("close", a, a + 1e-7)
    assert not exercises.compare("far", a, a + 1)
    assert not exercises.compare("shape", a, a[:2])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "exact | exact: True | close: True | max diff: 0"
    assert lines[1].startswith("close | exact: False | close: True | max diff: 1")
    assert lines[2].startswith("far | exact: False | close: False | max diff: 1")
    assert lines[3] == "shape | shape mismatch: got (4, 4), expected (2, 4)"


def test_reference_bugs_are_not_swallowed(lenient):
    with pytest.raises(ZeroDivisionError):
        exercises.check_function("ref bug", manual_softmax, lambda x: 1 / 0, softmax_inputs, seed=0)
    with pytest.raises(TypeError, match="cannot compare"):
        exercises.check_value("object", object(), object())


# --- recording and replaying (what student copies check against) -------------------------------------------

def test_records_round_trip_every_kind_of_output(tmp_path):
    value = {"t": torch.arange(6, dtype=torch.int16).view(2, 3), "b": torch.tensor([1.5], dtype=torch.bfloat16),
             "a": np.array(["x", "yz"]), "s": np.float32(0.25), "n": (1, 2.5, 1 + 2j, None, True, "é", b"\x00"),
             "l": [[1, 2], []], 3: {"nested": np.zeros((0, 2))}}
    exercises.save_records(tmp_path / "r.npz", value)
    back = exercises.load_records(tmp_path / "r.npz")
    exercises.STRICT, strict = True, exercises.STRICT
    try:
        assert exercises.check_value("round trip", back, value, check_dtype=True)
    finally:
        exercises.STRICT = strict
    assert back["b"].dtype == torch.bfloat16 and type(back["s"]) is np.float32 and isinstance(back["n"], tuple)
    with pytest.raises(TypeError, match="cannot record"):
        exercises.save_records(tmp_path / "bad.npz", {"x": object()})


def test_record_then_replay_without_the_reference(lenient, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(exercises, "RECORD", str(tmp_path / "run.npz"))
    assert exercises.check_function("softmax", manual_softmax, softmax_reference, softmax_inputs, trials=3)
    assert exercises.check_value("answer", 42, 6 * 7)
    recorded = exercises.load_records(tmp_path / "run.npz")
    assert [trial[0] for trial in recorded["softmax"]["trials"]] == [0, 1, 2]   # recording: fixed seeds
    exercises.save_records(tmp_path / "ch.expected.npz", {"profiles": {"smoke": recorded}})
    monkeypatch.setattr(exercises, "RECORD", None)
    exercises.replay(tmp_path / "ch.expected.npz")
    capsys.readouterr()
    R = exercises.RECORDED
    assert exercises.check_function("softmax", manual_softmax, R, None)
    assert not exercises.check_function("softmax", lambda x: x.exp(), R, None)
    assert not exercises.check_function("softmax", lambda x: (_ for _ in ()).throw(NotImplementedError("Ex 1")), R, None)
    assert exercises.check_value("answer", 42, R) and not exercises.check_value("answer", 41, R)
    assert not exercises.check_value("answer", None, R)
    assert not exercises.check_value("unknown", 1, R)
    lines = capsys.readouterr().out.splitlines()
    assert "softmax | passed | 3 recorded trials" in lines[0]
    assert "trial 1 of 3 (seed 0): output: max abs diff" in lines[1] and "first wrong index" in lines[1]
    assert "NOT passed | not done yet: Ex 1" in lines[2]
    assert "wrong value" in lines[4] and "42" not in lines[4]
    assert "not done yet: answer is still None" in lines[5]
    assert "no recorded reference outputs for 'unknown'" in lines[6]


def test_replay_names_the_profile_it_was_recorded_in(lenient, monkeypatch, tmp_path, capsys):
    from bigmodel_helpers import course
    exercises.save_records(tmp_path / "e.npz", {"profiles": {"smoke": {"n": {"kind": "value", "expected": 5}}}})
    monkeypatch.setattr(exercises, "REPLAY", str(tmp_path / "e.npz"))
    monkeypatch.setattr(course, "CURRENT_PROFILE", "cpu")
    assert not exercises.check_value("n", 7, exercises.RECORDED)
    assert "recorded in the 'smoke' profile and this run is 'cpu'" in capsys.readouterr().out
    monkeypatch.setattr(exercises, "REPLAY", str(tmp_path / "missing.npz"))
    assert not exercises.check_value("n", 5, exercises.RECORDED)
    assert "missing.npz is missing" in capsys.readouterr().out
