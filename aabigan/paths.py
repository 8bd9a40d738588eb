"""Where things are: the data (``$AABIGAN_DATA``), the cache (``$AABIGAN_CACHE``), and the committed files --
the result rows, the paper's tables, the saved models, the speed reports.  This module reads every location
variable of the package; the run profile's switch, ``$AABIGAN_PROFILE``, is read by :mod:`aabigan.profiles`.

In a checkout (or an editable install) they are the repository's top-level ``results/`` and
``benchmarks/`` folders.  An installed package (a wheel, ``pip install git+...`` on Colab) carries a copy of
them as ``aabigan/results`` and ``aabigan/benchmarks`` (see ``pyproject.toml``), so a chapter runs from an
empty directory with no checkout.  ``$AABIGAN_RESULTS`` overrides the results folder (it must hold
``paper/``).  A chapter asks :func:`results_dir` and never walks up from the working directory.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_root", "cache_dir", "results_dir", "benchmarks_dir", "from_checkout"]

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def data_root() -> Path:
    """The data folder: ``$AABIGAN_DATA``, default ``~/.cache/aabigan/data`` (torchvision's layout; may be read-only)."""
    return Path(os.environ.get("AABIGAN_DATA", Path.home() / ".cache" / "aabigan" / "data")).expanduser()


def cache_dir() -> Path:
    """Where downloads and the checksum verdicts go: ``$AABIGAN_CACHE``, default ``~/.cache/aabigan``."""
    return Path(os.environ.get("AABIGAN_CACHE", Path.home() / ".cache" / "aabigan")).expanduser()


def from_checkout() -> bool:
    """Whether this package is imported from a source checkout (its parent holds pyproject.toml and results/)."""
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "results" / "paper").is_dir()


def _located(name: str, marker: str) -> Path:
    """The checkout's ``name/`` folder, else the copy packaged as ``aabigan/name``; it must hold ``marker``."""
    for folder in ((_CHECKOUT / name) if from_checkout() else None, _PACKAGE / name):
        if folder is not None and (folder / marker).exists():
            return folder
    raise FileNotFoundError(f"no {name}/ folder holding {marker}: neither a checkout at {_CHECKOUT} nor a copy "
                            f"in the installed package at {_PACKAGE / name}; reinstall the package")


def results_dir() -> Path:
    """The committed results: ``$AABIGAN_RESULTS``, else ``results/`` of this checkout, else the packaged copy.

    It holds the result CSVs, ``paper/`` (the paper's tables) and ``models/`` (the saved detectors)."""
    if os.environ.get("AABIGAN_RESULTS"):
        return Path(os.environ["AABIGAN_RESULTS"])
    return _located("results", "paper")


def benchmarks_dir() -> Path:
    """The committed speed reports (``report.json``, ...): ``benchmarks/`` of this checkout, else the packaged copy."""
    return _located("benchmarks", "report.json")
