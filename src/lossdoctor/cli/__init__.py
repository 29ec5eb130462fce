"""The command line: ``lossdoctor train``, ``predict``, ``gradcheck``, ``lr-find``, ``sweep``,
``sharpness`` and ``diagnose``.

What lives where:

* ``program``: the top-level parser (:func:`build_parser`, :data:`SUBCOMMANDS`) and
  :func:`main`, which turns bad input into one line on standard error and exit status 2.
* one module per subcommand, ``train``, ``predict``, ``gradcheck``, ``lr_find``, ``sweep``,
  ``sharpness``, ``diagnose``: each has ``add_parser(subparsers)``, declaring its options, and
  ``run(args)``, doing the work and returning the exit status.
* ``options``: the option groups, declared once (data; network; set-up = data + scale +
  network + optimiser), with the tables of defaults each command passes in (``TRAIN_SETUP``,
  ``CLASSIC_SETUP``) and ``fill_setup_defaults`` for defaults that depend on DATA.
* ``argtypes``: the ``type=`` parsers (positive integer, seed, fraction, ...).
* ``loading``: reading DATA (a file, ``builtin:NAME`` or the built-in breast cancer data),
  settling the task, the features as the network sees them.
* ``models``: the estimator the set-up options describe, and fitting it.
* ``output``: checking output paths before the work, plots, JSON, a network's name.
* ``errors``: ``UsageError``, the parser whose errors are one line, the error and warning lines.
* ``limits``: the memory a network and its data would need, checked against what is available
  before any work (``--hidden 100000 100000`` is one line and exit status 2).
* ``progress``: a transient rich display on standard error when it is a terminal (spinner and
  elapsed time, or a bar with an ETA when the work can be counted); nothing when piped.

Start-up is fast: at module level these import only the standard library, NumPy and the light
core modules (activations, initialisers); each ``run`` imports the rest (scikit-learn, pandas,
matplotlib, the diagnostics) when it needs it.
"""

from .program import SUBCOMMANDS, build_parser, main

__all__ = ["SUBCOMMANDS", "build_parser", "main"]
