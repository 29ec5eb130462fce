"""``lossdoctor diagnose``: train with monitors and explain, root causes first, why it does not
train.

Each finding's fix is also given as a ``lossdoctor train`` command line: the diagnosed set-up's
options (:func:`train_flags`) with the finding's flags applied on top.

Without DATA the set-up options default to the classic question's set-up, with DATA to train's:
argparse leaves them unset and :func:`setup_of` fills them from the row of
:data:`SETUP_BY_DATA` that applies.
"""

from __future__ import annotations

import argparse
from typing import Any

from .errors import UsageError
from .loading import scaled_xy
from .models import estimator_from_args, settle_auto_lr
from .options import (
    CLASSIC_SETUP,
    TRAIN_SETUP,
    SetupDefaults,
    add_lr_option,
    add_setup_options,
    fill_setup_defaults,
)
from .output import check_output_path, json_default, json_safe
from .progress import progress

#: The set-up defaults, by whether DATA was given.
SETUP_BY_DATA: dict[bool, SetupDefaults] = {True: TRAIN_SETUP, False: CLASSIC_SETUP}

# Estimator parameters diagnose() takes otherwise or not at all.
_NOT_FOR_DIAGNOSE = ("random_state", "diagnose", "verbose", "warm_start")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``diagnose``: the set-up options (defaults by DATA), ``--fix``, the outputs."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diagnose",
        help="train with monitors and explain, root causes first, why it does not train",
        description="Check the data, the initial weights and the learning rate against the "
        "curvature bound, train with monitors on every layer, and report the findings ranked "
        "root causes first, each with its evidence and a fix. With no DATA and no set-up "
        "options: the classic question on the built-in breast-cancer data (hidden 128 64, tanh, "
        "unscaled inputs, init normal with scale 1, full-batch gradient descent at lr 1, 100 "
        "epochs). With DATA the set-up defaults are train's. 20% of the samples are held out "
        "(--validation-fraction) to detect overfitting. Your files are never changed. Exit "
        "status: 0 when no finding of severity error remains (with --fix: in the fixed run), 1 "
        "when one does, 2 on bad input, so scripts and CI can use it like a linter.",
    )
    add_setup_options(parser, SETUP_BY_DATA[True], without_data=SETUP_BY_DATA[False])
    add_lr_option(parser, SETUP_BY_DATA[True], without_data=SETUP_BY_DATA[False])
    parser.add_argument(
        "--fix",
        action="store_true",
        help="apply the fixes of the root causes, retrain from the same seed and show the loss "
        "before and after, with the findings that remain",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the report"
    )
    parser.add_argument("--report", metavar="HTML", help="also write an HTML report here")
    return parser


def run(args: argparse.Namespace) -> int:
    """Check the outputs, fill the set-up, diagnose, write and print the diagnosis."""
    check_output_path(args.report, "--report")
    write_html = html_writer() if args.report is not None else None
    args, line = settle_auto_lr(setup_of(args))
    if line and not args.json:
        print(line)
    diagnosis = diagnose_args(args)
    if write_html is not None:
        write_html(diagnosis, args.report)
    print_diagnosis(diagnosis, as_json=args.json, report=args.report)
    return exit_status(diagnosis)


def exit_status(diagnosis: Any) -> int:
    """1 when findings of severity error remain (after --fix: in the fixed run), else 0."""
    judged = diagnosis.fixed if diagnosis.fixed is not None else diagnosis
    return 1 if any(f.severity == "error" for f in judged.findings) else 0


def setup_of(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the set-up options not given: the classic set-up without DATA, train's with it.

    With ``--optimizer lbfgs`` the learning rate stays unset unless given (and then refused):
    lbfgs has none.
    """
    filled = fill_setup_defaults(args, SETUP_BY_DATA[args.data is not None])
    if filled.optimizer == "lbfgs":
        filled.lr = args.lr
    return filled


def html_writer() -> Any:
    """``write_html_report``, or a one-line error before any work if it cannot be imported."""
    try:
        from ..report.html import write_html_report
    except ImportError:
        raise UsageError(
            "--report needs lossdoctor.report.html, which this installation does not have"
        ) from None
    return write_html_report


def diagnose_args(args: argparse.Namespace) -> Any:
    """Run :func:`~lossdoctor.diagnostics.diagnose.diagnose` on the set-up of filled ``args``."""
    from ..diagnostics.diagnose import diagnose

    data, task, X, y = scaled_xy(args)
    params = estimator_from_args(args, task).get_params()
    for key in _NOT_FOR_DIAGNOSE:
        params.pop(key, None)
    holdout = 0.2 if args.validation_fraction is None else args.validation_fraction
    what = "checks, training with monitors, curvature"
    what += "; then retraining with the fixes and diagnosing again" if args.fix else ""
    with progress(f"diagnosing ({what})"):
        diagnosis = diagnose(
            X,
            y,
            task=task,
            fix=args.fix,
            random_state=args.seed,
            holdout=holdout,
            feature_names=_given_names(data.feature_names),
            **params,
        )
    diagnosis.setup["data"] = data.source
    diagnosis.setup["scale"] = args.scale
    diagnosis.setup["train_flags"] = train_flags(args)
    return diagnosis


def _given_names(names: list[str]) -> list[str] | None:
    """The data's column names, or None where the loader made them up (``x0``, ``x1``, ...)."""
    made_up = [f"x{i}" for i in range(len(names))]
    return None if list(names) == made_up else list(names)


def train_flags(args: argparse.Namespace) -> dict[str, str | bool | None]:
    """The diagnosed set-up as ``lossdoctor train`` options, those that differ from train's
    defaults: a finding's fix flags are applied on top of them (:func:`train_command`)."""
    out: dict[str, str | bool | None] = {}
    for key in SetupDefaults._fields:
        value, default = getattr(args, key), getattr(TRAIN_SETUP, key)
        if key == "hidden":
            value, default = tuple(value), tuple(default)
        if value == default or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if key == "hidden":
            out[flag] = " ".join(str(w) for w in value)
        else:
            out[flag] = f"{value:g}" if isinstance(value, float) else str(value)
    extra = {
        "--target": (args.target, None),
        "--task": (args.task, "auto"),
        "--batch-size": (args.batch_size, None),
        "--validation-fraction": (args.validation_fraction, None),
        "--dtype": (args.dtype, "float64"),
        "--seed": (args.seed, 0),
    }
    for flag, (value, default) in extra.items():
        if value != default:
            out[flag] = f"{value:g}" if isinstance(value, float) else str(value)
    return out


def print_diagnosis(diagnosis: Any, *, as_json: bool, report: str | None) -> None:
    """The report for people, or one strict JSON object for machines."""
    if as_json:
        import json

        # Strict JSON: NaN and infinities (a blown-up loss) become null.
        print(json.dumps(json_safe(diagnosis.to_dict()), default=json_default, allow_nan=False))
        return
    from ..report.terminal import print_report

    print_report(diagnosis)
    if report is not None:
        print(f"HTML report written to {report}")
