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

``fid-config-hash`` (2026-12-01, issue 16): FID rows (Table 4) were keyed by seven of their columns (dataset,
objective, anomaly class, profile, seed, rule, feature network), a key blind to the settings, so a changed
profile would not have re-run a cell.  They now go through the one grid runner as
:class:`aabigan.fid.FidConfig` s, keyed like every run by a ``config_hash`` of the config and the settings, data
caps and feature network it resolves to; the FID header gains ``config_hash`` as its first column.
:func:`fid_config_hash` adds it to a file of the old header: each row's config (:meth:`FidConfig.from_row`)
must give back the row's recorded settings, epochs, image counts and feature network exactly, or nothing is
written.  No other value changes.  The mapping on the committed ``results/fid-cpu.csv`` (30 rows: MNIST, cpu
profile, seed 0, rule best, ``classifier-mnist-128d-n10000-e2-seed0``; objective, left-out classes 0-9 ->
config hash):

* ``aa``: 0d233e6168576211 0f6cb300bd06ce65 cb91183c7b18d370 08cddd5af5890418 eb1317bd172adee0
  145245a908785de8 161b64a336dd2fb1 1521f7047043bce3 a27da251b724bc00 e267fdc4e03c6173
* ``lsgan``: 0798ea0a4683630c 4984036950839733 5654b609ab2c3f2d 6c5e5fbed50c1edc 75ba5dc5ee26f6ad
  989c2570162120c3 1afc3fd6d4304fa5 a97482dd0a3624b7 8661262a40b28ae9 a11765210bc5cd57
* ``bigan``: 54e4279d025a2ff6 89ba0729704fc866 051e3f7aa4006c56 75ba80c58fca0307 a49f468036035e2b
  d3370464280043d1 f34edb8658326052 345ca7af19330360 3ba7b322d6887577 f3b077904d7609a6

``default-c-reruns`` (2026-12-02, issue 13): Table 5's grid used to set ``c = 0.75`` explicitly in its c = 0.75
cells, a config of its own that trains exactly what the runs setting no c train (0.75 is the default,
:data:`aabigan.paper_tables.DEFAULT_C`).  So the ``cpu@1`` rows of F-MNIST gamma_l = .05, gamma_p = 0, c = 0.75
were a second training of Table 1's cell, bit for bit.  The grid now leaves c unset there, and Table 5's c = 0.75
cells read the rows that set none.  :func:`drop_default_c_reruns` removes every run that sets c = 0.75 and has
a twin setting none with the same AUROC, AUPRC, score and epoch under every rule; a run without such a twin
stays (the ``cpu@1`` F-MNIST gamma_p = .1 rows: Table 6 had no F-MNIST cell under ``cpu@1``), and a twin that
differs is an error.  On ``results/images-cpu.csv``: 10 runs, 30 rows.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .experiments import RunConfig, protocol_of
from .profiles import versions_of
from .store import FID_SCHEMA, RUN_SCHEMA, ResultsFile, Schema

#: the columns that say which run a row is of, besides its settings
RUN_KEY = ("dataset", "method", "normal_class", "known_classes", "k_l", "gamma_l", "gamma_p", "seed",
           "profile", "rule")

__all__ = ["settings_as_run", "fid_config_hash", "drop_default_c_reruns", "FID_SCHEMA_BEFORE_HASH"]

#: the FID header before ``fid-config-hash``: no ``config_hash``, keyed by seven columns
FID_SCHEMA_BEFORE_HASH = Schema("fid-before-hash", tuple(f for f in FID_SCHEMA.fields if f != "config_hash"),
                                key=("dataset", "objective", "anomaly_class", "profile", "seed", "rule", "feature_net"),
                                required=tuple(f for f in FID_SCHEMA.required if f != "config_hash"),
                                numeric=FID_SCHEMA.numeric)


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
            if protocol_of(r) is None:          # not the column of any definition of its profile: the old one
                cfg = next((c for c in (_config_of_old_row({**r, "profile": v}) for v in versions_of(r["profile"]))
                            if c.hash == r["config_hash"]), None)
                if cfg is None:
                    raise ValueError(f"{r.source}: its config no longer gives its hash {r['config_hash']}")
                new["settings"] = json.dumps(cfg.params(), sort_keys=True)
                changed += new["settings"] != r["settings"]
            rows.append(new)
        if changed:
            store.rows = []
            store.append(rows)
    return changed


def _fid_config_of(row: dict):
    """The :class:`~aabigan.fid.FidConfig` of an FID row, checked against every column it determines."""
    from .fid import FidConfig

    cfg = FidConfig.from_row(row)
    where = getattr(row, "source", "a row")
    if json.dumps(cfg.settings(), sort_keys=True) != row["settings"]:
        raise ValueError(f"{where}: its config resolves to settings {cfg.settings()}, not the recorded {row['settings']}")
    if cfg.feature_net != row["feature_net"]:
        raise ValueError(f"{where}: its config names the feature network {cfg.feature_net!r}, not {row['feature_net']!r}")
    if row["status"] == "ok":
        caps = cfg.data_args()
        got = (int(row["epochs"]), int(row["n_train"]), int(row["n_reference"]))
        if got != (cfg.settings()["epochs"], caps["max_train"], caps["max_reference"]):
            raise ValueError(f"{where}: epochs, n_train, n_reference {got} are not its config's")
    return cfg


def fid_config_hash(path) -> int:
    """Give every row of an FID file of the old header (:data:`FID_SCHEMA_BEFORE_HASH`) its ``config_hash``
    (see the module docstring), in one atomic, locked write; returns the number of rows rewritten (0 for a file
    that has the column already, after checking that every row's hash is its config's).  A row whose config
    does not give back its recorded columns is an error: nothing is written."""
    from .store import ResultsFileError, read_rows

    path = Path(path)
    try:
        current = read_rows(path, FID_SCHEMA)
    except ResultsFileError:
        current = None
    if current is not None:
        bad = [r.source for r in current if _fid_config_of(r).hash != r["config_hash"]]
        if bad:
            raise ValueError(f"rows whose config_hash is not their config's: {', '.join(bad)}")
        return 0
    with ResultsFile(path, FID_SCHEMA_BEFORE_HASH) as store:
        rows = [{"config_hash": _fid_config_of(r).hash, **r} for r in store.rows]
        store.schema, store.rows = FID_SCHEMA, []
        store.append(rows)
    return len(rows)


#: the columns a run at the default c must share with its twin that sets none, row by row
_TWIN_RESULT = ("auroc", "auprc", "score", "epoch")


def drop_default_c_reruns(path) -> int:
    """Remove the runs of the file that set ``c`` to its default and repeat a run that sets none (see the
    module docstring), in one atomic, locked write; returns the number of rows removed.  A twin whose results
    differ is an error: nothing is written."""
    from .paper_tables import DEFAULT_C

    def without_c(r) -> tuple:
        settings = json.loads(r["settings"] or "{}")
        settings.pop("c", None)
        return (*(r[k] for k in RUN_KEY), json.dumps(settings, sort_keys=True))

    with ResultsFile(Path(path), RUN_SCHEMA) as store:
        plain = {without_c(r): r for r in store.rows
                 if r["status"] == "ok" and "c" not in json.loads(r["settings"] or "{}")}
        runs: dict[str, list] = {}
        for r in store.rows:
            c = json.loads(r["settings"] or "{}").get("c")
            if r["status"] == "ok" and c is not None and float(c) == DEFAULT_C:
                runs.setdefault(r["config_hash"], []).append(r)
        drop = set()
        for h, rows in runs.items():
            twins = [plain.get(without_c(r)) for r in rows]
            if not all(twins):
                continue                                   # nothing repeated: the run stays
            for r, t in zip(rows, twins):
                if any(r[k] != t[k] for k in _TWIN_RESULT):
                    raise ValueError(f"{r.source}: sets c = {DEFAULT_C} like its twin {t.source} sets nothing, "
                                     f"but their results differ")
            drop.add(h)
        removed = sum(len(runs[h]) for h in drop)
        if drop:
            store.append([], replace=drop)
    return removed
