"""Names: parameters and gradients in dicts, lists, tuples or nested dicts, matched by name.

`flatten` turns a container of arrays into a flat dict named by path (``W1``, ``weights[0]``,
``layer1.W``). `match_gradients` pairs each parameter with its gradient under the usual spellings:
the same name, or ``dW1``, ``d_W1``, ``grad_W1``, ``W1_grad``, ``gradW1`` for ``W1`` (for a path,
the spelling applies to its last part: ``layer1.dW`` for ``layer1.W``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: How a gradient's name is spelt from its parameter's name (the parameter's name at ``{}``).
GRADIENT_SPELLINGS = ("{}", "d{}", "d_{}", "grad_{}", "{}_grad", "grad{}", "g{}", "g_{}")


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A flat dict of the leaves of nested dicts, lists and tuples, named by their path.

    Dict keys are joined with dots (``layer1.W``), list and tuple positions are written as
    indices (``weights[0]``). A leaf is anything else (an array, a number).
    """
    if isinstance(tree, Mapping):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(tree, (list, tuple)) and not _is_number_list(tree):
        out = {}
        for i, value in enumerate(tree):
            out.update(flatten(value, f"{prefix}[{i}]"))
        return out
    return {prefix: tree}


def _is_number_list(seq: Sequence[Any]) -> bool:
    """A list of plain numbers is one array-like leaf, not a container of tensors."""
    return len(seq) > 0 and all(isinstance(v, (int, float, np.number)) for v in seq)


def spellings(name: str) -> list[str]:
    """The names a gradient of parameter `name` may go by, the exact name first."""
    head, sep, last = name.rpartition(".")
    bracket = last.find("[")
    stem, index = (last, "") if bracket <= 0 else (last[:bracket], last[bracket:])
    out = []
    for form in GRADIENT_SPELLINGS:
        out.append(f"{head}{sep}{form.format(stem)}{index}")
    return out


def match_gradients(
    param_names: Sequence[str], grads: Mapping[str, Any]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Pair parameters with gradient keys.

    Returns
    -------
    matched : dict of str to str
        Parameter name to the key of its gradient in `grads`, for the parameters that have one.
    unused : tuple of str
        Keys of `grads` that belong to no parameter, in their order.
    """
    matched: dict[str, str] = {}
    taken: set[str] = set()
    # Exact names first, so that a parameter called "dW" keeps its own gradient "dW".
    for name in param_names:
        if name in grads:
            matched[name] = name
            taken.add(name)
    for name in param_names:
        if name in matched:
            continue
        for key in spellings(name)[1:]:
            if key in grads and key not in taken and key not in param_names:
                matched[name] = key
                taken.add(key)
                break
    unused = tuple(k for k in grads if k not in taken)
    return matched, unused
