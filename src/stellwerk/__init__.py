"""Stellwerk: a self-hosted control plane for a hosting and software business."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stellwerk")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
