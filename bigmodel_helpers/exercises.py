"""Auto-checked exercises: compare a learner's answer with the reference, print a one-line verdict.

Three functions (every one prints one line and returns ``True``/``False``):

* ``compare(name, got, expected, atol, rtol)`` -- Karpathy's ``cmp``: ``name | exact: True | close: True |
  max diff: 3e-08``. For "from scratch == library" cells; write ``assert compare(...)``. Never raises.
* ``check_function(name, candidate, reference, make_inputs, trials=5, ...)`` -- calls both functions on
  fresh random inputs ``make_inputs(g)``, where ``g`` is a seeded ``torch.Generator`` (for numpy inputs use
  ``np.random.default_rng(g.initial_seed())``). ``make_inputs`` returns a tuple of positional arguments (wrap a
  single argument: ``(x,)``) or a dict of keyword arguments. Outputs may be tensors, arrays, numbers, strings,
  or tuples/lists/dicts of them; every element is compared (shape, dtype, values within ``atol + rtol*|ref|``).
* ``check_value(name, got, expected, ...)`` -- the same for one answer (a number, a tensor, a string...).

A failed check says *what* differs (trial and seed, which output, shape or dtype mismatch, max abs
difference, first wrong index, how many elements) plus the hint -- never the reference values.
A placeholder that raises ``NotImplementedError`` (or an answer still ``None``) prints
``not done yet: <message>``; an exception inside the learner's function prints its type and message.

Strict mode (the one switch): ``exercises.STRICT`` is ``True`` by default, and then a failed
``check_function``/``check_value`` raises ``ExerciseFailed`` (an ``AssertionError``) after printing its
verdict -- so executing an instructor notebook in CI fails when a solution is wrong. The student build
(``python -m bigmodel_helpers.student``) inserts a cell ``exercises.STRICT = False`` after the parameters
cell of every student copy: there a failed check only prints its verdict and returns ``False``, and
"Run All" carries on. Write the check cell as a plain call, e.g. ``check_function("softmax", softmax, ...);``
(the ``;`` keeps Jupyter from echoing ``True`` under the verdict); never wrap it in ``assert``.

Recording and replaying (how student copies check without holding a reference): with ``RECORD`` set to a
path, every check also writes what it computed to that file -- for ``check_function`` each trial's seed,
inputs and reference output (``seed=None`` then means the fixed seeds 0, 1, ...), for ``check_value`` the
expected answer. The student build runs each instructor notebook that way, stores the recording as
``student/<stem>.expected.npz`` (``save_records``: numpy arrays plus a JSON index, no pickle), and writes
the checks of the learner copy with the reference replaced by ``RECORDED``. With ``REPLAY`` set to that
file (the inserted student cell calls ``replay(path)``), a check given ``RECORDED`` feeds the learner's
function the recorded inputs and compares with the recorded outputs: the same verdicts (shape, dtype, max
diff, first wrong index, trial and seed), and no reference in the notebook. A file can hold recordings of
several profiles; a check uses the one of the running chapter's profile, else the first.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import torch

STRICT = True   # True: a failed exercise check raises ExerciseFailed. The student build sets it to False.
RECORD: str | None = None   # a path: every check also records its inputs and reference outputs there
REPLAY: str | None = None   # a path: checks given RECORDED compare with the outputs recorded there


class _Recorded:
    """Stands for the reference in a student copy's check: the outputs come from the ``REPLAY`` file."""

    def __repr__(self):
        return "RECORDED"


RECORDED = _Recorded()


class ExerciseFailed(AssertionError):
    """A check did not pass while ``STRICT`` is on (instructor notebooks, CI)."""


def _describe(x) -> str:
    return f"{type(x).__module__}.{type(x).__name__}" if isinstance(x, (torch.Tensor, np.ndarray)) \
        else type(x).__name__


def _is_number(x) -> bool:
    return isinstance(x, (int, float, complex, np.number)) and not isinstance(x, (bool, np.bool_))


def _difference(got, expected, atol: float, rtol: float, check_dtype: bool, where: str = "output"):
    """Return ``(problem, max_abs_diff, exact)``; ``problem`` is None when ``got`` matches ``expected``.

    Problems mention shapes, dtypes, indices and differences, never the expected values.
    """
    if isinstance(expected, (torch.Tensor, np.ndarray)):
        if type(got) is not type(expected) and not (isinstance(got, torch.Tensor) and isinstance(expected, torch.Tensor)):
            return f"{where}: expected a {_describe(expected)}, got a {_describe(got)}", math.inf, False
        if tuple(got.shape) != tuple(expected.shape):
            return f"{where}: shape mismatch: got {tuple(got.shape)}, expected {tuple(expected.shape)}", math.inf, False
        if isinstance(expected, np.ndarray) and expected.dtype.kind not in "biufc":   # strings, objects: exact
            same = got.dtype == expected.dtype and bool(np.array_equal(got, expected))
            return (None, 0.0, True) if same else (f"{where}: the arrays differ", math.inf, False)
        g = got.detach().cpu() if isinstance(got, torch.Tensor) else torch.from_numpy(np.array(got))
        e = expected.detach().cpu() if isinstance(expected, torch.Tensor) else torch.from_numpy(np.array(expected))
        if check_dtype and g.dtype != e.dtype:
            return f"{where}: dtype mismatch: got {g.dtype}, expected {e.dtype}", math.inf, False
        exact = g.dtype == e.dtype and bool(torch.equal(g, e))
        if g.numel() == 0 or exact:
            return None, 0.0, True
        if e.dtype == torch.bool or not (e.is_floating_point() or e.is_complex()):
            g, e = g.to(torch.float64), e.to(torch.float64)   # integers/bools: any difference is wrong
            atol, rtol = 0.0, 0.0
        diff = (g.to(e.dtype if e.is_floating_point() or e.is_complex() else torch.float64) - e).abs()
        diff = torch.where(torch.isnan(g) & torch.isnan(e), torch.zeros_like(diff), diff)   # NaN == NaN here
        diff = torch.nan_to_num(diff, nan=math.inf).to(torch.float64)
        wrong = diff > atol + rtol * e.abs().to(torch.float64)
        max_diff = float(diff.max())
        if not bool(wrong.any()):
            return None, max_diff, False
        first = int(wrong.flatten().nonzero()[0])
        index = tuple(int(i) for i in np.unravel_index(first, tuple(e.shape))) if e.dim() else ()
        return (f"{where}: max abs diff {max_diff:.3g}, first wrong index {index}, "
                f"{int(wrong.sum())} of {e.numel()} elements differ"), max_diff, False
    if isinstance(expected, (bool, np.bool_)) and isinstance(got, (bool, np.bool_)):
        return (None, 0.0, True) if bool(got) == bool(expected) else (f"{where}: wrong truth value", math.inf, False)
    if isinstance(expected, (bool, np.bool_, str, bytes)) or expected is None:
        if got == expected and type(got) is type(expected):
            return None, 0.0, True
        if type(got) is not type(expected):
            return f"{where}: expected a {_describe(expected)}, got a {_describe(got)}", math.inf, False
        return f"{where}: wrong {_describe(expected)}", math.inf, False
    if _is_number(expected):
        if not _is_number(got):
            advice = " (.item() turns a one-element tensor into a number)" if isinstance(got, torch.Tensor) else ""
            return f"{where}: expected a number, got a {_describe(got)}{advice}", math.inf, False
        if got == expected:
            return None, 0.0, True
        diff = abs(complex(got) - complex(expected))
        if math.isnan(diff):
            same_nan = isinstance(got, (float, np.floating)) and math.isnan(got) and math.isnan(expected)
            return (None, 0.0, True) if same_nan else (f"{where}: not a number (nan)", math.inf, False)
        if diff <= atol + rtol * abs(expected):
            return None, diff, False
        # An exact difference would give the answer away; the order of magnitude still guides.
        kind, scale = ("relative", diff / abs(expected)) if expected != 0 else ("absolute", diff)
        size = f"~1e{math.floor(math.log10(scale)):+d}" if math.isfinite(scale) else "infinite"
        return (f"{where}: wrong value ({kind} error {size}, "
                f"tolerance atol={atol:g}, rtol={rtol:g})"), diff, False
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{where}: expected a {type(expected).__name__}, got a {_describe(got)}", math.inf, False
        if len(got) != len(expected):
            return f"{where}: length mismatch: got {len(got)} items, expected {len(expected)}", math.inf, False
        items = [(f"{where}[{i}]", g, e) for i, (g, e) in enumerate(zip(got, expected))]
    elif isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{where}: expected a dict, got a {_describe(got)}", math.inf, False
        if set(got) != set(expected):
            missing, extra = sorted(map(str, set(expected) - set(got))), sorted(map(str, set(got) - set(expected)))
            return f"{where}: keys differ (missing {missing}, unexpected {extra})", math.inf, False
        items = [(f"{where}[{k!r}]", got[k], expected[k]) for k in expected]
    else:
        raise TypeError(f"exercises cannot compare a {_describe(expected)} (at {where}); return tensors, arrays, "
                        "numbers, strings, or tuples/lists/dicts of them from the reference.")
    worst, all_exact = 0.0, True
    for path, g, e in items:
        problem, max_diff, exact = _difference(g, e, atol, rtol, check_dtype, path)
        if problem:
            return problem, max_diff, False
        worst, all_exact = max(worst, max_diff), all_exact and exact
    return None, worst, all_exact


# --- recording and replaying reference outputs (see the module docstring) -----------------------------------

def _encode(value, arrays: list):
    """``value`` as JSON-able data; tensors and arrays go to ``arrays`` and are referred to by index."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        if tensor.dtype == torch.bfloat16:   # numpy has no bfloat16; float32 holds every bfloat16 exactly
            tensor = tensor.float()
        arrays.append(tensor.numpy())
        return {"__array__": len(arrays) - 1, "torch": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind not in "biufcUS":
            raise TypeError(f"cannot record a numpy array of dtype {array.dtype} (no pickles)")
        arrays.append(array)
        return {"__array__": len(arrays) - 1, "scalar": isinstance(value, np.generic)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, complex):
        return {"__complex__": [value.real, value.imag]}
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"cannot record a {_describe(value)}: checks can record tensors, arrays, numbers, strings, "
                    "None, and tuples/lists/dicts of them")


def _decode(data, arrays):
    if isinstance(data, list):
        return [_decode(v, arrays) for v in data]
    if not isinstance(data, dict):
        return data
    if "__array__" in data:
        array = arrays[f"a{data['__array__']}"]
        if "torch" in data:
            return torch.from_numpy(array.copy()).to(getattr(torch, data["torch"]))
        return array[()] if data.get("scalar") else array
    if "__complex__" in data:
        return complex(*data["__complex__"])
    if "__bytes__" in data:
        return bytes.fromhex(data["__bytes__"])
    if "__tuple__" in data:
        return tuple(_decode(v, arrays) for v in data["__tuple__"])
    return {_decode(k, arrays): _decode(v, arrays) for k, v in data["__dict__"]}


def save_records(path, records: dict) -> None:
    """Write ``records`` (any structure of what ``_encode`` takes) to an ``.npz``: arrays + a JSON index."""
    arrays: list = []
    index = json.dumps(_encode(records, arrays))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:   # a file object: np.savez would append .npz to another suffix
        np.savez_compressed(handle, __index__=np.array(index), **{f"a{i}": a for i, a in enumerate(arrays)})


def load_records(path) -> dict:
    """Read what ``save_records`` wrote (``allow_pickle=False``: the file cannot run code)."""
    with np.load(Path(path), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return _decode(json.loads(str(arrays.pop("__index__"))), arrays)


def _record(name: str, entry: dict) -> None:
    path = Path(RECORD)
    records = load_records(path) if path.is_file() else {}
    records[name] = entry
    save_records(path, records)


_replay_cache: dict = {}


def replay(path) -> None:
    """Student copies: checks given ``RECORDED`` compare with the outputs recorded in ``path``."""
    global REPLAY
    REPLAY = str(path)
    if not Path(path).is_file():
        print(f"{path} is missing: the checks compare with the reference outputs recorded there (the student "
              "build, `make student`, writes it next to this notebook).")


def _current_profile() -> str | None:
    course = sys.modules.get("bigmodel_helpers.course")
    return getattr(course, "CURRENT_PROFILE", None)


def _replayed(name: str):
    """``(entry, note)`` for the check ``name`` from the ``REPLAY`` file, or ``(None, why not)``."""
    if REPLAY is None:
        return None, "no recorded reference outputs: exercises.REPLAY is not set (this is a student-copy check)"
    path = Path(REPLAY)
    if not path.is_file():
        return None, f"no recorded reference outputs: {path} is missing (`make student` writes it)"
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _replay_cache:
        _replay_cache.clear()
        _replay_cache[key] = load_records(path)
    profiles = _replay_cache[key].get("profiles") or {}
    if not profiles:
        return None, f"no recorded reference outputs in {path.name} (rebuild the student copy)"
    profile = _current_profile()
    recorded = profile if profile in profiles else next(iter(profiles))
    entry = profiles[recorded].get(name)
    if entry is None:
        return None, f"no recorded reference outputs for {name!r} in {path.name} (rebuild the student copy)"
    note = "" if profile in (None, recorded) else (
        f" (the reference outputs were recorded in the {recorded!r} profile and this run is {profile!r}: an "
        f"answer that depends on the profile's sizes only passes in {', '.join(map(repr, profiles))})")
    return entry, note


def compare(name: str, got, expected, atol: float = 1e-6, rtol: float = 1e-5, check_dtype: bool = True) -> bool:
    """Print ``name | exact: … | close: … | max diff: …`` (or the shape/dtype mismatch); return close."""
    problem, max_diff, exact = _difference(got, expected, atol, rtol, check_dtype, where="value")
    if problem and math.isinf(max_diff):
        print(f"{name} | {problem.removeprefix('value: ')}")
        return False
    print(f"{name} | exact: {exact} | close: {problem is None} | max diff: {max_diff:.3g}")
    return problem is None


def _verdict(name: str, passed: bool, message: str, hint: str = "") -> bool:
    line = f"{name} | {'passed' if passed else 'NOT passed'} | {message}"
    if not passed and hint:
        line += f" | hint: {hint}"
    print(line)
    if not passed and STRICT:
        raise ExerciseFailed(line)
    return passed


def _call_learner(fn, args):
    """Run the learner's function; return ``(output, None)`` or ``(None, verdict message)``."""
    try:
        return (fn(**args) if isinstance(args, dict) else fn(*args)), None
    except NotImplementedError as error:
        return None, f"not done yet: {error}"
    except Exception as error:  # noqa: BLE001 -- the learner's bug: report it, let the notebook go on
        return None, f"your function raised {type(error).__name__}: {error}"


def check_function(name: str, candidate, reference, make_inputs, trials: int = 5, atol: float = 1e-6,
                   rtol: float = 1e-5, hint: str = "", seed: int | None = None, check_dtype: bool = True) -> bool:
    """Check ``candidate`` against ``reference`` on ``trials`` fresh inputs ``make_inputs(torch.Generator)``.

    ``seed=None`` draws a random seed (reported on failure, so the failing trial can be replayed); while
    recording (``RECORD``) it means seed 0. ``reference=RECORDED`` (student copies) compares with the inputs and
    outputs recorded in the ``REPLAY`` file instead; ``make_inputs`` and ``trials`` are then not used.
    Returns True when every output matched in every trial; prints one line either way.
    """
    note = ""
    if reference is RECORDED:
        entry, note = _replayed(name)
        if entry is None:
            return _verdict(name, False, note, hint)
        cases, kind = [tuple(case) for case in entry["trials"]], "recorded"
    elif not callable(reference) or not callable(make_inputs):
        raise TypeError("check_function needs callables for reference and make_inputs.")
    if candidate is None or not callable(candidate):
        return _verdict(name, False, f"not done yet: {name} is not a function yet", hint)
    if reference is not RECORDED:
        if seed is None:
            seed = 0 if RECORD else random.SystemRandom().randrange(2**31)
        cases, kind = [], "random"
        for trial in range(trials):
            inputs = make_inputs(torch.Generator().manual_seed(int(seed) + trial))
            args = inputs if isinstance(inputs, (tuple, dict)) else (inputs,)
            expected = reference(**copy.deepcopy(args)) if isinstance(args, dict) else reference(*copy.deepcopy(args))
            cases.append((int(seed) + trial, args, expected))
        if RECORD:
            _record(name, {"kind": "function", "trials": [list(case) for case in cases]})
    worst = 0.0
    for trial, (trial_seed, args, expected) in enumerate(cases):
        got, failure = _call_learner(candidate, copy.deepcopy(args))
        if failure is None:
            failure, max_diff, _ = _difference(got, expected, atol, rtol, check_dtype)
            worst = max(worst, max_diff)
        if failure:
            where = "" if failure.startswith("not done yet") else \
                f"trial {trial + 1} of {len(cases)} (seed {trial_seed}): "
            return _verdict(name, False, where + failure + note, hint)
    return _verdict(name, True, f"{len(cases)} {kind} trials | max diff {worst:.3g}")


def check_value(name: str, got, expected, atol: float = 1e-6, rtol: float = 1e-5, hint: str = "",
                check_dtype: bool = True) -> bool:
    """Check one answer (number, tensor, array, string or a tuple of them); ``None`` means not done yet.

    ``expected=RECORDED`` (student copies) compares with the answer recorded in the ``REPLAY`` file.
    """
    note = ""
    if expected is RECORDED:
        entry, note = _replayed(name)
        if entry is None:
            return _verdict(name, False, note, hint)
        expected = entry["expected"]
    elif RECORD:
        _record(name, {"kind": "value", "expected": expected})
    if got is None and expected is not None:
        return _verdict(name, False, f"not done yet: {name} is still None", hint)
    problem, max_diff, _ = _difference(got, expected, atol, rtol, check_dtype, where="answer")
    return _verdict(name, problem is None, (problem + note) if problem else f"max diff {max_diff:.3g}", hint)
