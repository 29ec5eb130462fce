"""Gradient checking for hand-written backpropagation.

`check_gradients` compares the analytic gradients of any code, not only lossdoctor's own network,
with central finite differences of the loss. The loss is a callable with no arguments that reads the
parameter arrays wherever the user's code keeps them (``self.W1`` or a dict); the arrays are
perturbed in place and restored bit-exactly afterwards.

What lives where (imports point up this list only):

``_report.py``
    `TensorCheck` and `GradientReport`: the results as frozen data, their table, dict and JSON.
``_probes.py``
    `Probes`, the finite differences kept for one tensor, and `compare`: a candidate gradient's
    relative error on them.
``_differences.py``
    `Prober`: central differences along directions and at coordinates, retries at smaller steps
    (kinks), the measured noise of the loss; `LossCounter`. The numerical method is explained
    there.
``_hints.py``
    `HINTS` and `explain`: which simple mistake (sign, scale, transpose, reduction axis, ...) the
    evidence about a failing tensor supports.
``_tensor.py``
    `check_tensor`: one parameter's shape, probes, verdict and hint.
``_names.py``
    `flatten` (lists, tuples, nested dicts named by path: ``weights[0]``) and `match_gradients`
    (``dW1``, ``d_W1``, ``grad_W1``, ``W1_grad`` for ``W1``).
``_source.py``
    The line: the statement in the user's code that assigns a gradient (``inspect``, ``ast``)
    and its corrected form for hints with a mechanical fix.
``_checker.py``
    `check_gradients`: validate the input, copy the gradients, measure the loss's noise, check
    each tensor in backprop order, restore the parameters, name the lines, report.
``_styles.py``
    `check_gradients_of`: recognise how a network is written (cs231n, Nielsen, deeplearning.ai,
    attributes ``W1``/``dW1``) and check it in one call.
"""

from ._checker import check_gradients
from ._hints import HINTS
from ._report import GradientReport, SourceLine, TensorCheck
from ._styles import check_gradients_of

__all__ = [
    "HINTS",
    "GradientReport",
    "SourceLine",
    "TensorCheck",
    "check_gradients",
    "check_gradients_of",
]
