"""Stellwerk: a self-hosted control plane for a hosting and software business."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Looked up when first asked for: reading the installed metadata takes longer than a CLI
    # command's `--help` may.
    if name != "__version__":
        raise AttributeError(f"module 'stellwerk' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("stellwerk")
    except PackageNotFoundError:  # running from a source tree without installation
        found = "0.0.0"
    globals()["__version__"] = found
    return found
