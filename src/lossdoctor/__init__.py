"""lossdoctor: a NumPy MLP that explains, with numbers, why training misbehaves."""

__version__ = "0.1.0"

__all__ = ["__version__"]
