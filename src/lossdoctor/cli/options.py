"""The option groups, declared once; each command passes its defaults as a table.

A command's set-up defaults are one :class:`SetupDefaults` row: :data:`TRAIN_SETUP` for
``train``, ``lr-find``, ``sweep`` and ``gradcheck``, :data:`CLASSIC_SETUP` for ``diagnose``
without DATA. A command whose defaults depend on its arguments (``diagnose``) declares the set-up
options with ``without_data=``: argparse then leaves them at None, ``--help`` shows both rows, and
the command calls :func:`fill_setup_defaults` with the row that applies.

Only light modules are imported here (the parser is built on every start): the data module loads
pandas, so its two constants that ``--help`` shows are copied below, and a test pins them.
"""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple

from ..activations import ACTIVATIONS
from ..data import BUILTIN_DATASETS, MAX_AUTO_CLASSES
from ..initializers import INITIALIZERS
from ..runspec import CLASSIC_SETUP as _CLASSIC
from ..runspec import make_spec
from .argtypes import (
    fraction,
    lr_or_auto,
    non_negative_float,
    positive_float,
    positive_int,
    seed,
)

#: Learning rate used when ``--lr`` is not given, by optimiser. With standardised inputs these
#: train the default network on the built-in data sets; momentum 0.9 multiplies the effective
#: step by 1 / (1 - 0.9) = 10, hence a tenth of plain descent's rate.
DEFAULT_LR = {"gd": 0.1, "momentum": 0.01, "adam": 0.001}
#: ``--optimizer``'s choices: those with a learning rate, and lbfgs (L-BFGS-B's line search
#: chooses every step, so it has none).
OPTIMIZERS = (*DEFAULT_LR, "lbfgs")
DEFAULT_DATA = "builtin:breast_cancer"


class SetupDefaults(NamedTuple):
    """Defaults of the set-up options that differ between commands.

    None means "let the estimator decide": the initialiser that suits the activation, and the
    learning rate of :data:`DEFAULT_LR` for the optimiser.
    """

    hidden: tuple[int, ...]
    activation: str
    init: str | None
    init_scale: float
    alpha: float
    optimizer: str
    lr: float | None
    epochs: int
    scale: str


TRAIN_SETUP = SetupDefaults(
    hidden=(128, 64),
    activation="tanh",
    init=None,
    init_scale=1.0,
    alpha=0.0,
    optimizer="gd",
    lr=None,
    epochs=200,
    scale="standard",
)
#: :data:`lossdoctor.runspec.CLASSIC_SETUP` (the question's network) on unscaled inputs.
CLASSIC_SETUP = SetupDefaults(
    hidden=tuple(_CLASSIC["hidden_layer_sizes"]),
    activation=_CLASSIC["activation"],
    init=_CLASSIC["init"],
    init_scale=_CLASSIC["init_scale"],
    alpha=_CLASSIC["alpha"],
    optimizer=make_spec(_CLASSIC).optimizer_kind.name,
    lr=_CLASSIC["learning_rate_init"],
    epochs=_CLASSIC["max_iter"],
    scale="none",
)

# What a default of None means, in --help.
_NONE_SHOWN = {
    "init": "Glorot for tanh/sigmoid, He for ReLU",
    "lr": ", ".join(f"{lr} for {opt}" for opt, lr in DEFAULT_LR.items()),
}


def fill_setup_defaults(args: argparse.Namespace, defaults: SetupDefaults) -> argparse.Namespace:
    """A copy of ``args`` with the set-up options left at None taken from ``defaults``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by a parser whose set-up options were declared with ``without_data=``.
    defaults : SetupDefaults
        The row that applies, such as :data:`CLASSIC_SETUP`.

    Returns
    -------
    argparse.Namespace
        ``args`` with every field of :class:`SetupDefaults` set.
    """
    given = {key: getattr(args, key) for key in SetupDefaults._fields}
    filled = {k: _value(defaults, k) if v is None else v for k, v in given.items()}
    return argparse.Namespace(**{**vars(args), **filled})


def default_help(
    key: str, defaults: SetupDefaults, without_data: SetupDefaults | None = None
) -> str:
    """``(default: ...)`` for set-up option ``key``; with ``without_data``, both rows."""
    text = _shown(defaults, key)
    if without_data is not None:
        text += f"; without DATA: {_shown(without_data, key)}, the classic set-up's"
    return f"(default: {text})"


class RefusedOption(argparse.Action):
    """An option a command does not use: giving it is a one-line error saying why.

    Declared so that the command's parser recognises it (instead of "unrecognized arguments")
    and hidden from ``--help``.
    """

    def __init__(self, option_strings: list[str], dest: str, reason: str = "", **kwargs: Any):
        kwargs.update(nargs="?", default=None, help=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)
        self.reason = reason

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        from .errors import UsageError

        raise UsageError(f"{option} does not apply here: {self.reason}")


def refuse_options(parser: argparse.ArgumentParser, reasons: dict[str, str]) -> None:
    """Declare each ``--option`` of ``reasons`` as a :class:`RefusedOption`."""
    for flag, reason in reasons.items():
        parser.add_argument(flag, action=RefusedOption, reason=reason)


def add_setup_options(
    parser: argparse.ArgumentParser,
    defaults: SetupDefaults = TRAIN_SETUP,
    *,
    without_data: SetupDefaults | None = None,
    refused: dict[str, str] | None = None,
) -> None:
    """Declare the data and training set-up shared by every command that trains, but ``--lr``.

    Adds the data options (:func:`add_data_options`), ``--scale``, the network options
    (:func:`add_network_options`) and ``--optimizer``, ``--epochs``, ``--batch-size``. Each
    command declares its own ``--lr`` (one rate, one or ``auto``, several), with
    :func:`add_lr_option` for the plain one. Options named in ``refused`` (``{"--epochs":
    "why"}``) are declared as :class:`RefusedOption` instead: a command that does not use an
    option refuses it rather than ignoring it.
    """
    refused = refused or {}
    add_data_options(parser, refused=refused)
    _add_setup_option(
        parser,
        "--scale",
        defaults,
        without_data,
        "standard: standardise the features; the statistics are stored with the model",
        choices=("standard", "none"),
    )
    add_network_options(parser, defaults, without_data=without_data)
    _add_setup_option(
        parser,
        "--optimizer",
        defaults,
        without_data,
        "gd: plain gradient descent; momentum: heavy ball, 0.9; adam; lbfgs: L-BFGS-B on the "
        "full batch, one iteration per epoch, no learning rate",
        choices=OPTIMIZERS,
    )
    if "--epochs" not in refused:
        _add_setup_option(
            parser,
            "--epochs",
            defaults,
            without_data,
            "passes over the data; training runs exactly this many",
            type=positive_int,
        )
    if "--batch-size" not in refused:
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=None,
            metavar="N",
            help="mini-batch size, shuffled each epoch (default: the full batch)",
        )
    refuse_options(parser, refused)


def add_data_options(
    parser: argparse.ArgumentParser, *, refused: dict[str, str] | None = None
) -> None:
    """Declare ``DATA``, ``--target``, ``--task`` and ``--validation-fraction`` (unless
    ``refused`` names it)."""
    parser.add_argument(
        "data",
        nargs="?",
        default=None,
        metavar="DATA",
        help="CSV, Parquet or NPZ file, or builtin:NAME with NAME one of "
        f"{', '.join(BUILTIN_DATASETS)} (default: {DEFAULT_DATA})",
    )
    parser.add_argument(
        "--target", default=None, metavar="COL", help="target column (default: 'target' or 'y')"
    )
    parser.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto: classification for text, boolean or integer labels with at most "
        f"{MAX_AUTO_CLASSES} values, else regression (default: %(default)s)",
    )
    if "--validation-fraction" in (refused or {}):
        return
    parser.add_argument(
        "--validation-fraction",
        type=fraction,
        default=None,
        metavar="F",
        help="hold out this fraction of the samples (stratified for classification) and report "
        "the score on them",
    )


def add_network_options(
    parser: argparse.ArgumentParser,
    defaults: SetupDefaults = TRAIN_SETUP,
    *,
    without_data: SetupDefaults | None = None,
) -> None:
    """Declare the network and its initial weights: ``--hidden``, ``--activation``, ``--init``,
    ``--init-scale``, ``--alpha``, ``--dtype`` and ``--seed``."""
    _add_setup_option(
        parser,
        "--hidden",
        defaults,
        without_data,
        "widths of the hidden layers; none gives a linear model",
        type=positive_int,
        nargs="*",
        metavar="WIDTH",
    )
    _add_setup_option(
        parser,
        "--activation",
        defaults,
        without_data,
        "hidden activation",
        choices=sorted(ACTIVATIONS),
    )
    _add_setup_option(
        parser, "--init", defaults, without_data, "weight initialiser", choices=list(INITIALIZERS)
    )
    _add_setup_option(
        parser,
        "--init-scale",
        defaults,
        without_data,
        "multiplies the initialiser's scale",
        type=positive_float,
        metavar="S",
    )
    _add_setup_option(
        parser,
        "--alpha",
        defaults,
        without_data,
        "L2 penalty alpha / (2 n) * sum ||W||^2",
        type=non_negative_float,
        metavar="A",
    )
    parser.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="precision of the weights and of training (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=seed, default=0, help="seeds weights and shuffling (default: %(default)s)"
    )


def add_lr_option(
    parser: argparse.ArgumentParser,
    defaults: SetupDefaults = TRAIN_SETUP,
    *,
    without_data: SetupDefaults | None = None,
) -> None:
    """Declare ``--lr``, one positive learning rate or ``auto``."""
    _add_setup_option(
        parser,
        "--lr",
        defaults,
        without_data,
        "learning rate, or auto: half the stability limit from the curvature at the initial "
        "weights (1/L for gd)",
        type=lr_or_auto,
    )


def _add_setup_option(
    parser: argparse.ArgumentParser,
    flag: str,
    defaults: SetupDefaults,
    without_data: SetupDefaults | None,
    help: str,
    **kwargs: Any,
) -> None:
    # Defaults that depend on DATA are filled after parsing, so argparse must leave them unset.
    key = flag.removeprefix("--").replace("-", "_")
    default = None if without_data is not None else _value(defaults, key)
    help = f"{help} {default_help(key, defaults, without_data)}"
    parser.add_argument(flag, default=default, help=help, **kwargs)


def _value(defaults: SetupDefaults, key: str) -> Any:
    value = getattr(defaults, key)
    return list(value) if key == "hidden" else value


def _shown(defaults: SetupDefaults, key: str) -> str:
    value = _value(defaults, key)
    return _NONE_SHOWN[key] if value is None else str(value)
