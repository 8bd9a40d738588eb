"""Rewrites of committed result files, each kept here with what it changed, so that a reviewer can redo it.

``settings-as-run`` (2026-12-01, issue 12): a run row's ``settings`` column used to record the profile's
settings as written for AA-BiGAN (``epochs``, ``min_steps``, ``neg_batch_size``, ``width``, ...), whichever
method ran.  A baseline takes only some of them, and those of Deep SAD's family build their networks at half
the ``width``, so the column did not say what the baseline ran (``width`` 16 recorded for a network built at 8;
``min_steps`` recorded for methods that have no such setting).  Rows now record the estimator's own parameters
(:meth:`aabigan.experiments.RunConfig.params`).  The config hashes are unchanged (they are of the config and
its profile's settings, which did not change); AA-BiGAN rows are unchanged (its parameters are its settings).
The mapping, old column -> new column, on the committed files:

* ODDS, cpu profile (``{"batch_size": 128, "epochs": 100, "min_steps": 3000}``): Deep SAD, Deep SVDD, CAE,
  NDA, SS-DGM and the supervised classifier -> ``{"batch_size": 128, "epochs": 100}``; OCSVM / SSAD Hybrid ->
  the same plus ``"features": "hybrid"``; AAD (which trains by its own schedule) -> ``{}``.
* images, cpu profile (``{"batch_size": 64, "epochs": 20, "neg_batch_size": 16, "width": 16}``): Deep SAD ->
  ``{"batch_size": 64, "epochs": 20, "width": 8}``; the supervised classifier -> the same plus
  ``"neg_batch_size": 16``.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .experiments import RunConfig
from .store import RUN_SCHEMA, ResultsFile

__all__ = ["settings_as_run"]


def _config_of_old_row(row: dict) -> RunConfig:
    """The config of a row whose ``settings`` are the profile's settings plus overrides (the old column)."""
    cfg = RunConfig(row["dataset"], row["method"], int(row["normal_class"]),
                    tuple(int(c) for c in str(row["known_classes"]).split()), float(row["gamma_l"]),
                    float(row["gamma_p"]), int(row["seed"]), row["profile"])
    recorded, profile = json.loads(row["settings"] or "{}"), cfg.settings()
    return dataclasses.replace(cfg, overrides=tuple((k, v) for k, v in recorded.items()
                                                    if k not in profile or profile[k] != v))


def settings_as_run(path) -> int:
    """Rewrite the ``settings`` column of the file's rows that still hold the old column (see the module
    docstring), in one atomic write; returns the number of rows changed.  A row whose config does not give
    back its ``config_hash`` is an error: nothing is written."""
    path = Path(path)
    with ResultsFile(path, RUN_SCHEMA) as store:
        rows, changed = [], 0
        for r in store.rows:
            new = dict(r)
            try:
                current = RunConfig.from_row(r).hash == r["config_hash"]
            except ValueError:
                current = False
            if not current:
                cfg = _config_of_old_row(r)
                if cfg.hash != r["config_hash"]:
                    raise ValueError(f"{r.source}: its config no longer gives its hash {r['config_hash']}")
                new["settings"] = json.dumps(cfg.params(), sort_keys=True)
                changed += new["settings"] != r["settings"]
            rows.append(new)
        if changed:
            store.rows = []
            store.append(rows)
    return changed
