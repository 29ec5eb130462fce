"""``lossdoctor sharpness``: the eigenvalues the library gives, and the verdict on --lr."""

from __future__ import annotations

import json

import numpy as np

from lossdoctor.cli import build_parser, main
from lossdoctor.cli.loading import scaled_xy
from lossdoctor.cli.models import setup_params
from lossdoctor.diagnostics.curvature import sharpness_of
from lossdoctor.diagnostics.lr_range import make_setup


def test_json_matches_the_library(capsys):
    argv = ["sharpness", "--hidden", "16", "-k", "2", "--lr", "1", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    # The same set-up through the library: the CLI's data loading and defaults, then the call.
    args = build_parser().parse_args(argv)
    _, task, X, y = scaled_xy(args)
    s = make_setup(X, y, **setup_params(args, task))
    expected = sharpness_of(s.net, s.params, s.X, s.Y, alpha=float(s.spec.alpha), k=2, rng=0)
    np.testing.assert_allclose(out["eigenvalues"], expected, rtol=1e-12)
    assert out["samples_used"] == 569
    assert out["verdict"]["label"] in ("stable", "edge", "unstable")
    assert out["verdict"]["lr"] == 1.0


def test_trained_and_text(capsys):
    assert (
        main(["sharpness", "--hidden", "8", "--epochs", "5", "--trained", "--subsample", "200"])
        == 0
    )
    text = capsys.readouterr().out
    assert "after 5 epochs" in text and "200 used" in text and "eigenvalue 1:" in text


def test_bad_tolerance_is_one_line(capsys):
    assert main(["sharpness", "--tol", "2"]) == 2
    assert "--tol" in capsys.readouterr().err
