"""The line: where the user's code assigns a gradient, and the corrected statement for a hint.

`find_assignment` reads (with `inspect` and `ast`) the functions reachable from what computes the
gradients: a function or lambda and the functions and objects it refers to, a bound method and
the other methods of its object, every function of a module. It looks for the statement that
assigns the gradient of one parameter: ``db1 = ...``, ``self.db1 = ...``, ``grads["b1"] = ...``
(following ``grads["b1"] = db1`` or ``{"b1": db1}`` to the assignment of ``db1``).

`corrected` rewrites that statement for the hints that have a mechanical fix: the reduction axis
(``axis=1, keepdims=True``), a missing or extra division (``/ m``), a transpose (``.T``), a missing
regularisation term (``+ lam * W``).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._names import spellings
from ._report import SourceLine

# Modules whose functions are never the user's backprop.
_LIBRARY_PREFIXES = ("numpy", "scipy", "sklearn", "lossdoctor.", "builtins", "functools")
# How deep references are followed from the code given (a lambda -> a method -> its helpers).
_MAX_DEPTH = 3


@dataclass(frozen=True)
class Assignment:
    """An assignment statement found in a function, with what is needed to rewrite it."""

    where: SourceLine
    node: ast.Assign | ast.AugAssign | ast.AnnAssign
    function: ast.AST  # the enclosing function's tree, to find names such as ``m``


def find_assignments(code: Any, param: str, grad_key: str | None) -> list[Assignment]:
    """The statements in the reachable functions that assign the gradient of `param`, in order.

    `grad_key` is the gradient's name in the gradients given (``dW1``, ``W1`` ...). When none
    assigns it by its full name, the name without the layer number is tried (``db = ...`` in a
    helper shared by the layers). Empty when nothing is found (a gradient computed in a loop over
    a list, in a library, or in code whose source is not available).
    """
    keys = {param, *([grad_key] if grad_key else [])}
    found = _find(code, _gradient_names(param, grad_key), keys)
    if not found:
        stem = _last_stem(param).rstrip("0123456789")
        if stem and stem != _last_stem(param):
            found = _find(code, _gradient_names(stem, None), set())
    return found


def choose(found: list[Assignment]) -> Assignment:
    """The assignment that defines the gradient: the last one whose value does not read the
    gradient itself (``dW = -dW`` or ``dW = dW.T`` patch a value defined before)."""
    for a in reversed(found):
        node = a.node
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) not in ast.unparse(
            node.value
        ):
            return a
    return found[-1]


def _find(code: Any, names: set[str], keys: set[str]) -> list[Assignment]:
    found: list[Assignment] = []
    for fn in _functions_reached(code):
        parsed = _parse(fn)
        if parsed is None:
            continue
        tree, file, first_line, lines = parsed
        for node in ast.walk(tree):
            target = _assigned_gradient(node, names, keys)
            if target is None:
                continue
            if isinstance(target, str):  # grads["W1"] = dW1: the assignment of dW1 instead
                node = _last_assignment_of(tree, target) or node
            assert isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
            line = first_line + node.lineno - 1
            text = " ".join(
                part.strip() for part in lines[node.lineno - 1 : node.end_lineno or node.lineno]
            )
            found.append(Assignment(SourceLine(file, line, text), node, tree))
    return found


def _gradient_names(param: str, grad_key: str | None) -> set[str]:
    """Variable and attribute names a gradient of `param` is assigned to (not `param` itself)."""
    stems = {_last_stem(param)}
    if grad_key is not None:
        stems.add(_last_stem(grad_key))
    names: set[str] = set()
    for stem in stems:
        names.update(_last_stem(s) for s in spellings(stem)[1:])
    if grad_key is not None and _last_stem(grad_key) != _last_stem(param):
        names.add(_last_stem(grad_key))
    return names


def _last_stem(name: str) -> str:
    last = name.rpartition(".")[2]
    return last.split("[", 1)[0]


def _assigned_gradient(node: ast.AST, names: set[str], keys: set[str]) -> bool | str | None:
    """True when `node` assigns one of `names` (``db1 = ``, ``self.db1 = ``) or a gradient key
    (``grads["db1"] = ...``); the name of the variable when it assigns a key from one
    (``grads["b1"] = db1``); else None."""
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
        targets, value = [node.target], node.value
    else:
        return None
    for target in targets:
        if isinstance(target, ast.Name) and target.id in names:
            return True
        if isinstance(target, ast.Attribute) and target.attr in names:
            return True
        # A key spelt as a gradient (grads["dW1"]) anywhere; the parameter's own key only in a
        # container of gradients (grads["W1"], not self.params["W1"]).
        if (
            isinstance(target, ast.Subscript)
            and isinstance(target.slice, ast.Constant)
            and (
                target.slice.value in names
                or (target.slice.value in keys and "grad" in ast.unparse(target.value).lower())
            )
        ):
            return value.id if isinstance(value, ast.Name) else True
    return None


def _last_assignment_of(tree: ast.AST, name: str) -> ast.Assign | ast.AugAssign | None:
    last = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            if last is None or node.lineno > last.lineno:
                last = node
    return last


def _parse(fn: types.FunctionType) -> tuple[ast.AST, str, int, list[str]] | None:
    try:
        lines, first_line = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or "<unknown>"
    except (OSError, TypeError):
        return None
    source = textwrap.dedent("".join(lines))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # A lambda's source line is the whole statement around it, which may not parse alone.
        return None
    return tree, file, first_line, source.splitlines()


def _is_user_code(fn: Any) -> bool:
    module = getattr(fn, "__module__", None) or ""
    return isinstance(fn, types.FunctionType) and not module.startswith(_LIBRARY_PREFIXES)


def _functions_reached(code: Any) -> Iterator[types.FunctionType]:
    """User functions reachable from `code`, each once, nearest first."""
    seen: set[int] = set()
    frontier: list[Any] = [code]
    for _ in range(_MAX_DEPTH):
        following: list[Any] = []
        for item in frontier:
            for fn, refs in _expand(item):
                if id(fn) in seen or not _is_user_code(fn):
                    continue
                seen.add(id(fn))
                yield fn
                following.extend(refs)
        frontier = following


def _expand(item: Any) -> Iterator[tuple[types.FunctionType, list[Any]]]:
    """The functions `item` stands for, each with the objects its code refers to."""
    if isinstance(item, types.MethodType):
        yield from _expand(item.__func__)
        yield from _expand_object(item.__self__)
    elif isinstance(item, types.FunctionType):
        try:
            refs = inspect.getclosurevars(item)
        except (TypeError, ValueError):
            yield item, []
            return
        yield item, [*refs.nonlocals.values(), *refs.globals.values()]
    elif isinstance(item, types.ModuleType):
        for _, member in inspect.getmembers(item):
            if isinstance(member, types.FunctionType):
                yield from _expand(member)
            elif isinstance(member, type) and not member.__module__.startswith(_LIBRARY_PREFIXES):
                yield from _class_functions(member)
    elif isinstance(item, type):
        yield from _class_functions(item)
    elif not isinstance(item, (int, float, str, bytes, bool, type(None))):
        yield from _expand_object(item)


def _expand_object(obj: Any) -> Iterator[tuple[types.FunctionType, list[Any]]]:
    cls = type(obj)
    if cls.__module__.startswith(_LIBRARY_PREFIXES):
        return
    yield from _class_functions(cls)
    # Objects it holds, such as a list of layer objects.
    for value in getattr(obj, "__dict__", {}).values():
        if isinstance(value, (list, tuple)):
            for element in value[:16]:
                if not type(element).__module__.startswith(_LIBRARY_PREFIXES):
                    yield from _class_functions(type(element))


def _class_functions(cls: type) -> Iterator[tuple[types.FunctionType, list[Any]]]:
    for klass in cls.__mro__:
        if klass is object or klass.__module__.startswith(_LIBRARY_PREFIXES):
            continue
        for member in vars(klass).values():
            if isinstance(member, types.FunctionType):
                yield member, []


# ---- corrected statements -----------------------------------------------------------------------


def corrected(
    found: Assignment,
    hint: str | None,
    param_shape: tuple[int, ...],
    *,
    factor: float | None = None,
    whole: tuple[int, str] | None = None,
    coefficient: float | None = None,
    param_expr: str | None = None,
) -> str | None:
    """The statement of `found` rewritten for `hint`, or None when the fix is not mechanical."""
    node = found.node
    if not isinstance(node, ast.Assign):
        return None
    value = _copy(node.value)
    if hint in ("wrong-reduction-axis", "reduction-sums-to-zero"):
        axis = _samples_axis(param_shape)
        if axis is None or not _add_axis(value, *axis):
            return None
        new_value: ast.expr = value
    elif hint == "scale-mismatch" and whole is not None:
        k, word = whole
        name = _samples_name(found.function)
        divisor: ast.expr = ast.Name(name) if name else ast.Constant(k)
        new_value = ast.BinOp(value, ast.Div() if word == "missing" else ast.Mult(), divisor)
    elif hint == "transposed":
        new_value = ast.Attribute(value, "T")
    elif hint == "missing-regularization" and coefficient is not None and param_expr:
        term = ast.BinOp(ast.Constant(float(f"{coefficient:.3g}")), ast.Mult(), _expr(param_expr))
        new_value = ast.BinOp(value, ast.Add(), term)
    else:
        return None
    return ast.unparse(ast.Assign(targets=node.targets, value=new_value, lineno=0))


def param_expression(found: Assignment, param: str) -> str:
    """How the user's code refers to the parameter: ``self.W1`` beside ``self.dW1``, else the
    parameter's own name."""
    node = found.node
    target = node.targets[0] if isinstance(node, ast.Assign) else node.target
    stem = _last_stem(param)
    if isinstance(target, ast.Attribute):
        return f"{ast.unparse(target.value)}.{stem}"
    return stem


def _copy(node: ast.expr) -> ast.expr:
    copied = ast.parse(ast.unparse(node), mode="eval").body
    return copied


def _expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _samples_axis(shape: tuple[int, ...]) -> tuple[int, bool] | None:
    """(axis, keepdims) of the sum over the samples that gives a bias of this shape."""
    if len(shape) == 1:
        return 0, False
    if len(shape) == 2 and shape[1] == 1 and shape[0] > 1:
        return 1, True  # a column (n_units, 1): features by samples
    if len(shape) == 2 and shape[0] == 1:
        return 0, True  # a row (1, n_units): samples by features
    return None


def _add_axis(tree: ast.expr, axis: int, keepdims: bool) -> bool:
    """Give the first ``sum``/``mean`` without an axis in `tree` the samples axis, in place."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Attribute, ast.Name)):
            continue
        fname = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        if fname not in ("sum", "mean"):
            continue
        is_function = (
            isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("np", "numpy")
        )
        positional_axis = len(node.args) > (1 if is_function else 0)
        if positional_axis or any(k.arg == "axis" for k in node.keywords):
            continue
        node.keywords.insert(0, ast.keyword("axis", ast.Constant(axis)))
        if keepdims and not any(k.arg == "keepdims" for k in node.keywords):
            node.keywords.append(ast.keyword("keepdims", ast.Constant(True)))
        return True
    return False


def _samples_name(function: ast.AST) -> str | None:
    """A variable holding the number of samples: ``m = X.shape[1]``, ``n = len(X)``."""
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            value = node.value
            shape_index = (
                isinstance(value, ast.Subscript)
                and isinstance(value.value, ast.Attribute)
                and value.value.attr == "shape"
            )
            length = (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "len"
            )
            if shape_index or length:
                return node.targets[0].id
    return None
