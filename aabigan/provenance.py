"""Provenance of a result: the commit of the code that ran and the device it ran on.

The commit is read lazily, once per process, the first time a row asks for it -- never at import: importing
the package must not run ``git`` in the user's checkout.  ``GIT_OPTIONAL_LOCKS=0`` keeps ``git status`` from
taking ``.git/index.lock`` (it would otherwise refresh the index, and break a commit running beside it).
"""
from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

__all__ = ["commit", "device_name", "cpu_model"]


@functools.lru_cache(maxsize=None)
def commit() -> str:
    """The commit of the code this process runs ("-dirty" when aabigan/ had uncommitted changes when first
    asked; "unknown" outside a git checkout, e.g. an installed wheel)."""
    here = Path(__file__).resolve().parent
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, text=True,
                             timeout=10, env=env).stdout.strip()
        if not top or Path(top).resolve() != here.parent:     # not this package's own checkout
            return "unknown"
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=10, env=env).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "aabigan"], cwd=here.parent,
                               capture_output=True, text=True, timeout=10, env=env).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("-dirty" if dirty else "")) if sha else "unknown"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(dev) -> str:
    import torch

    if str(dev).startswith("cuda"):
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return f"cpu:{cpu_model()}, {os.cpu_count()} cores:{torch.get_num_threads()}threads"
