"""Values crossing between the user and generated code: argument types and conversion in,
argnums checked, results out.

The compiler specialises on argument types, so every transform (grad, the Jacobians, the
CUDA targets, `show`) first turns the user's arguments into the values and IR types the
generated code is compiled for; here is the one place that does it, with the checks that
refuse what cannot be differentiated before anything is compiled.
"""

from __future__ import annotations

import inspect

import numpy as np

from .errors import GradientInputError
from .ir.types import F32, F64, I64, Tree, Type, leaf_types

_KINDS = {"f": "float", "i": "int", "u": "int", "b": "bool"}


def normalize_argnums(argnums, n_params: int) -> tuple[list[int], bool]:
    """(argument positions, a single int given?): negative positions wrap, repeats and
    positions out of range are refused, and so is anything but ints (True is not 1 here)."""
    single = _is_position(argnums)
    if not single and not isinstance(argnums, (tuple, list, range)):
        raise GradientInputError(f"argnums must be an int or a tuple of ints, not "
                                 f"{type(argnums).__name__} {argnums!r}")
    nums = [argnums] if single else list(argnums)
    if not nums:
        raise GradientInputError("argnums must name at least one argument")
    for k in nums:
        if not _is_position(k):
            raise GradientInputError(f"argnums must hold ints, not {type(k).__name__} {k!r}")
        if not -n_params <= k < n_params:
            raise GradientInputError(f"argnums {k!r} is out of range for a function of "
                                     f"{n_params} arguments")
    nums = [int(k) % n_params for k in nums]
    if len(set(nums)) != len(nums):
        raise GradientInputError("argnums lists an argument twice")
    return nums, single


def _is_position(k) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def type_of(value, name: str, differentiated: bool, trees: bool = False
            ) -> tuple[object, Type]:
    """(converted value, IR type) for one argument: Python and NumPy numbers become float,
    int or bool, np.float32 numbers stay np.float32; arrays become float64, float32, int64 or
    bool arrays (0-d ones numbers; float16 becomes float64); with
    `trees`, tuples and lists (nested too) become a tuple or list of converted entries, of
    type Tree (a gradient w.r.t. one has its structure, as JAX's pytrees do)."""
    if isinstance(value, (tuple, list)) and trees:
        items = [type_of(v, f"{name}[{k}]", differentiated, trees)
                 for k, v in enumerate(value)]
        kind = "list" if isinstance(value, list) else "tuple"
        converted = [v for v, _ in items]
        return (converted if kind == "list" else tuple(converted),
                Tree(kind, tuple(t for _, t in items)))
    if isinstance(value, dict):
        raise GradientInputError(f"argument '{name}' is a dict, which is not supported: "
                                 "pass its values as a tuple or list (or separately)")
    if isinstance(value, (bool, np.bool_)):
        kind, value = "bool", bool(value)
    elif isinstance(value, (int, np.integer)):
        kind, value = "int", int(value)
    elif isinstance(value, np.float32):
        return value, F32
    elif isinstance(value, (float, np.floating)):
        kind, value = "float", float(value)
    else:
        return _array_type(value, name, differentiated)
    if differentiated and kind != "float":
        raise GradientInputError(f"cannot differentiate with respect to '{name}': it is "
                                 f"{'a bool' if kind == 'bool' else 'an int'} ({value!r}); "
                                 f"pass a float such as {float(value)!r}, or leave it out "
                                 "of argnums")
    return value, F64 if kind == "float" else Type(kind)


def _array_type(value, name: str, differentiated: bool) -> tuple[object, Type]:
    value = np.asarray(value)
    if value.dtype.kind == "f":
        if value.dtype != np.float32:
            value = value.astype(np.float64, copy=False)
    elif value.dtype.kind in "iu":
        value = value.astype(np.int64, copy=False)
    elif value.dtype.kind != "b":
        raise GradientInputError(f"argument '{name}' has unsupported type "
                                 f"{type(value).__name__} (dtype {value.dtype})")
    if value.ndim == 0:
        return type_of(value[()] if value.dtype == np.float32 else value.item(), name,
                       differentiated)
    kind = _KINDS[value.dtype.kind]
    if differentiated and kind != "float":
        raise GradientInputError(f"cannot differentiate with respect to '{name}': it is "
                                 f"an array of {value.dtype}; pass a float array")
    return value, Type(kind, value.ndim, 32 if value.dtype == np.float32 else 64)


def prepare(signature: inspect.Signature, args, kwargs, argnums, trees: bool = False
            ) -> tuple[list, list[Type]]:
    """(values, types) of a call's arguments bound to `signature` (defaults applied); the
    `argnums` ones must be floats or float arrays (or, with `trees`, tuples and lists of
    them). Without `trees` a tuple or list argument is refused: the transform takes
    numbers and arrays."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    values, types = [], []
    for k, (name, value) in enumerate(bound.arguments.items()):
        if isinstance(value, (tuple, list)) and not trees:
            raise GradientInputError(
                f"argument '{name}' is a {type(value).__name__}: tuple and list arguments are "
                "differentiated by grad, value_and_grad, jvp and vjp; this transform takes "
                "numbers and arrays: pass np.array(...), or one argument per entry")
        value, t = type_of(value, name, k in argnums, trees)
        values.append(value)
        types.append(t)
    return values, types


def flatten(values) -> list:
    """Arguments as the generated code takes them: the entries of tuple and list arguments
    one by one, depth first (their IR parameters are the entries: frontend.lower)."""
    flat = []
    for value in values:
        if isinstance(value, (tuple, list)):
            flat.extend(flatten(value))
        else:
            flat.append(value)
    return flat


def leaf_positions(types: list, nums) -> list[int]:
    """The generated code's parameter positions of the arguments `nums` (each tuple or list
    argument has one per entry)."""
    starts, start = [], 0
    for t in types:
        starts.append(start)
        start += len(leaf_types(t))
    return [starts[k] + j for k in nums for j in range(len(leaf_types(types[k])))]


def regroup(flat: list, types: list) -> list:
    """Per-entry results (gradients, tangents) put back into the structure of `types`: a
    tuple or list for a Tree, the value itself for a Type."""
    entries = iter(flat)

    def build(t):
        if isinstance(t, Tree):
            items = [build(item) for item in t.items]
            return items if t.kind == "list" else tuple(items)
        return output(next(entries))

    return [build(t) for t in types]


def floats(types: list[Type]) -> list[int]:
    """Positions of the float and float-array arguments (what jvp, vjp and hvp differentiate)."""
    return [k for k, t in enumerate(types) if t.is_float]


def require_floats(types: list[Type], nums, what: str) -> None:
    for k in nums:
        if not types[k].is_float:
            raise GradientInputError(f"{what}: argument {k} is not a float or float array")


def like(value, template, k: int):
    """A tangent or cotangent given for `template` (argument or output k), as a float or a
    float array of its shape, float32 for a float32 template (of a tuple or list: the same
    structure of them)."""
    if isinstance(template, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(template):
            raise GradientInputError(f"tangent {k} must be a {type(template).__name__} of "
                                     f"{len(template)} entries, as its primal is")
        return type(template)(like(v, t, k) for v, t in zip(value, template))
    if isinstance(template, np.ndarray):
        value = np.asarray(value, dtype=np.float32 if template.dtype == np.float32
                           else np.float64)
        if value.shape != template.shape:
            raise GradientInputError(f"tangent {k} has shape {value.shape}, its primal "
                                     f"{template.shape}")
        return value
    return np.float32(value) if isinstance(template, np.float32) else float(value)


def output(value):
    """A result of generated code as the user gets it: arrays and np.float32 numbers as
    they are, other numbers as float (tuples and lists of them, regrouped already: as they
    are)."""
    if isinstance(value, (np.ndarray, np.float32, tuple, list)):
        return value
    return float(value)


def structure(values: list, single: bool):
    """Results as the user gets them: the one value, or a tuple."""
    values = [output(v) for v in values]
    return values[0] if single else tuple(values)


def scalar_types(fn) -> list[Type]:
    """Device functions take numbers: int where annotated `int`, float otherwise."""
    params = inspect.signature(fn, eval_str=True).parameters.values()
    return [I64 if p.annotation is int else F64 for p in params]


def kernel_type(value) -> Type:
    """The IR type of one kernel argument (a device array or a number)."""
    dtype = np.dtype(getattr(value, "dtype", type(value)))
    kind = _KINDS.get(dtype.kind)
    if kind is None:
        raise GradientInputError(f"unsupported kernel argument of type {dtype}")
    return Type(kind, getattr(value, "ndim", 0))
