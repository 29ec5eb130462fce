"""The package root: lazy (PEP 562) and complete."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lossdoctor

HEAVY = ("sklearn", "scipy", "pandas", "pyarrow", "matplotlib", "jinja2", "rich", "joblib")


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_import_loads_the_numpy_core_only() -> None:
    loaded = _loaded_after("import lossdoctor")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    ours = {m for m in loaded if m.startswith("lossdoctor.")}
    assert ours == {
        f"lossdoctor.{m}"
        for m in (
            "_version",
            "activations",
            "initializers",
            "losses",
            "network",
            "optimizers",
            "schedules",
            "threads",
            "training",
        )
    }


@pytest.mark.parametrize(
    ("module", "heavy"),
    [("lossdoctor.data", ("pandas", "pyarrow")), ("lossdoctor.report.html", ("jinja2",))],
)
def test_optional_libraries_load_where_used(module: str, heavy: tuple[str, ...]) -> None:
    loaded = _loaded_after(f"import {module}")
    assert not {m for m in loaded if m.split(".")[0] in heavy}


def test_first_access_imports_the_defining_module() -> None:
    loaded = _loaded_after("import lossdoctor\nlossdoctor.MLPClassifier")
    assert "lossdoctor.estimators" in loaded
    assert "lossdoctor.diagnostics.gradcheck" not in loaded


@pytest.mark.parametrize("name", lossdoctor.__all__)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(lossdoctor, name)
    assert value is not None
    assert name in dir(lossdoctor)


def test_names_come_from_their_modules() -> None:
    from lossdoctor.estimators import MLPClassifier
    from lossdoctor.model_files import ModelFileError, load, save

    assert lossdoctor.MLPClassifier is MLPClassifier
    assert (lossdoctor.load, lossdoctor.save) == (load, save)
    assert lossdoctor.ModelFileError is ModelFileError


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        lossdoctor.nope  # noqa: B018
    assert not hasattr(lossdoctor, "io")
