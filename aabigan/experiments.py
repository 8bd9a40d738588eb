"""Experiments: a run is a small frozen config -> result rows; a grid runner appends rows and resumes.

    cfg = RunConfig("thyroid", "aabigan", gamma_l=0.01, seed=3, profile="cpu")
    rows = run_one(cfg)                       # one row per selection rule, with provenance
    run_grid(grid("table2", "cpu"), "results/odds-cpu.csv")

Rows are long format: one row per (run, selection rule).  An AA-BiGAN run is trained once and reported
under three rules (:data:`RULES`):

* ``last/reconstruction`` and ``last/latent``: the networks after the last epoch, a score fixed in advance
  -- no label is used for any choice;
* ``val/auto``: the epoch and the score with the best AUROC on the validation split (the paper's rule; the
  latest epoch among ties); the test split is never used for a choice.

A baseline that trains by epochs (Deep SVDD, Deep SAD, CAE, ALAD, NDA, SS-DGM, the supervised classifier) is
reported under the same two kinds of rule (:data:`BASELINE_RULES`): ``last`` (label-free: the networks after
the last epoch) and ``val/epoch`` (the epoch with the best validation AUROC).  A method without epochs (the
kernel methods, AAD) has one row, ``fixed``.

A run that fails (bad data, a diverging loss) is recorded as one row with ``status=failed`` and the error.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import platform
import time
import traceback
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Iterable

from . import __version__
from .data import IMAGE_DATASETS, ODDS_DATASETS, canonical_name, make_split
from .detector import AABiGAN, ShortFitWarning
from .methods import BUILT_IN_METHODS, METHODS, Method, register_method
from .paper_tables import TABLE_CELLS, TABLE_SCOPE
from .profiles import get_profile, versions_of
from .provenance import commit as _commit, device_name as _device_name
from .scores import EXTRA_SCORES, SCORES, auprc, auroc
from .selection import BASELINE_RULES, FIXED_RULES, RULES, aabigan_rules, best_epoch, select
from .store import CURVE_FIELDS, CURVE_SCHEMA, ROW_FIELDS, RUN_SCHEMA, ResultsFile, complete_keys, read_rows
from .validation import check_fraction, check_integer

__all__ = ["METHODS", "Method", "register_method", "RULES", "BASELINE_RULES", "FIXED_RULES", "rows_from_epochs", "REPORTS", "RunConfig", "run_one", "load_or_train", "figure_models", "run_grid", "dask_executor", "pending", "current_rows", "protocol_of", "rows_of_protocol",
           "expected_rules", "read_rows", "grid", "GRIDS", "ROW_FIELDS", "rows_from_history"]


# ------------------------------------------------------------------------------------------- config
#: overrides that change the split rather than the method, name -> (default, other values).  They are protocol
#: variants for diagnosis (chapter 8), never defaults: ``ratio_of="train"`` counts gamma_l as the collected
#: anomalies' share of the training set (Deep SAD's and the authors' code) instead of per normal sample (the
#: paper's text); ``odds_split="deepsad-reused-rng"`` splits an ODDS table as the Deep SAD code's loader runs,
#: with one random state reused for the train and the test part, so that test records are also training
#: records (:func:`aabigan.data.make_split`).  A row records them in its ``settings``.
SPLIT_OPTIONS = MappingProxyType({"ratio_of": ("normal", "train"),
                                  "odds_split": ("stratified", "deepsad-reused-rng")})


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one run.  ``overrides`` are (name, value) pairs of method settings."""

    dataset: str
    method: str = "aabigan"
    normal_class: int = 0
    known_classes: tuple[int, ...] = (1,)
    gamma_l: float = 0.0
    gamma_p: float = 0.0
    seed: int = 0
    profile: str = "smoke"
    overrides: tuple[tuple[str, object], ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        check_integer(self.normal_class, "normal_class", 0)
        check_integer(self.seed, "seed", 0)
        object.__setattr__(self, "known_classes", tuple(check_integer(c, "known_classes", 0)
                                                        for c in self.known_classes))
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; known: {', '.join(sorted(METHODS))}")
        # an override the method lacks (an AA-BiGAN setting given to a whole grid) changes neither its run nor
        # its hash; a name no method knows is an error here, not a failed run later
        method = METHODS[self.method]
        # a list value (a setting read back from JSON, e.g. betas) is kept as a tuple: configs stay hashable
        overrides = {str(k): tuple(v) if isinstance(v, list) else v for k, v in dict(self.overrides).items()}
        split = {k: overrides.pop(k) for k in list(overrides) if k in SPLIT_OPTIONS}
        for k, v in split.items():
            if v not in SPLIT_OPTIONS[k]:
                raise ValueError(f"split option {k} must be one of {SPLIT_OPTIONS[k]}, got {v!r}")
        kept = {k: v for k, v in overrides.items() if method.takes(k, v)}   # raises for an unknown name
        # a split option at its default is no override (the config and its hash stay those of the plain run)
        kept.update({k: v for k, v in split.items() if v != SPLIT_OPTIONS[k][0]})
        object.__setattr__(self, "overrides", tuple(sorted(kept.items())))
        get_profile(self.profile)
        for name in ("gamma_l", "gamma_p"):   # 0 and 0.0 are one config (and one hash)
            object.__setattr__(self, name, float(check_fraction(getattr(self, name), name)))
        if self.dataset in ODDS_DATASETS and (self.normal_class != 0 or self.known_classes not in ((), (1,))):
            raise ValueError("ODDS datasets have normal class 0 and one anomaly class, 1")
        if self.gamma_l > 0 and not self.known_classes:
            raise ValueError("gamma_l > 0 needs at least one known (collected) anomaly class")

    @property
    def family(self) -> str:
        return "image" if self.dataset in IMAGE_DATASETS else "tabular"

    def settings(self) -> dict:
        """The method's settings: the profile's, then the overrides."""
        out = get_profile(self.profile).method_settings(self.dataset, self.family)
        out.update({k: v for k, v in self.overrides if k not in SPLIT_OPTIONS})
        return out

    def split_options(self) -> dict:
        """The overrides that change the split, not the method (:data:`SPLIT_OPTIONS`)."""
        return {k: v for k, v in self.overrides if k in SPLIT_OPTIONS}

    def params(self) -> dict:
        """The parameters the method's estimator is built with (:meth:`Method.params` of :meth:`settings`):
        what the run's rows record as ``settings``."""
        return METHODS[self.method].params(self.settings())

    def split_args(self) -> dict:
        """``make_split``'s arguments: the profile's subsampling; one channel for the authors' MNIST / F-MNIST
        networks (they take 1x32x32; CIFAR-10 keeps its three)."""
        prof = get_profile(self.profile)
        args = dict(prof.split_image) if self.family == "image" else {}
        args.update(self.split_options())
        if self.family == "image" and self.settings().get("arch") == "authors":
            args["channels"] = 3 if self.dataset == "cifar10" else 1
        return args

    @classmethod
    def from_row(cls, row: dict) -> "RunConfig":
        """The config a result row was written for: its fields, and as overrides the settings in which the row
        differs from its profile's.  ``from_row(row).hash == row["config_hash"]`` unless the profile changed
        since the row was written (then the runner would train that config again).

        A row records the estimator's parameters (:meth:`params`); where the method maps a setting (the
        baselines of Deep SAD's family build their networks at half the ``width``), the setting is the value
        that maps to the recorded one."""
        cfg = cls(row["dataset"], row["method"], int(row["normal_class"]),
                  tuple(int(c) for c in str(row["known_classes"]).split()), float(row["gamma_l"]),
                  float(row["gamma_p"]), int(row["seed"]), row["profile"])
        recorded = json.loads(row["settings"]) if row.get("settings") else {}
        split = {k: recorded.pop(k) for k in list(recorded) if k in SPLIT_OPTIONS}
        cfg = dataclasses.replace(cfg, overrides=tuple(split.items()))
        method, base = METHODS[cfg.method], cfg.settings()
        ran = method.params(base)
        overrides = {}
        for k, v in recorded.items():
            if k in ran and ran[k] == v:
                continue
            candidates = [v] + ([2 * v] if isinstance(v, int) and not isinstance(v, bool) else [])
            match = [c for c in candidates if method.params({**base, k: c}).get(k) == v]
            if not match:
                raise ValueError(f"{getattr(row, 'source', 'a row')}: no setting {k!r} of {cfg.method} gives "
                                 f"the recorded {v!r}")
            overrides[k] = match[0]
        return dataclasses.replace(cfg, overrides=tuple(overrides.items()) + tuple(split.items()))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["known_classes"] = list(self.known_classes)
        d["overrides"] = dict(self.overrides)
        return d

    @property
    def hash(self) -> str:
        """Stable hash of the config *and* the settings it resolves to (a changed profile re-runs)."""
        config = {**self.to_dict(), "profile": get_profile(self.profile).name}   # "cpu@1" hashes as "cpu"
        blob = json.dumps({"config": config, "settings": self.settings(), "split": self.split_args()},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------ one run


def rows_from_history(history: list[dict], test: dict[int, dict[str, tuple[float, float]]]) -> list[dict]:
    """Test AUROC/AUPRC under the three selection rules, from a history with val entries and ``test``, epoch ->
    {score: (test AUROC, test AUPRC)} recorded after each epoch (:class:`_TestScores`); and ``last/features``
    when the record holds the extra score (a run with ``score="features"``)."""
    missing = sorted({int(h["epoch"]) for h in history} - set(test))
    if missing:
        raise ValueError(f"no test AUROC was recorded for epochs {missing}")
    last = int(history[-1]["epoch"])
    out = [{"rule": f"last/{s}", "score": s, "epoch": last, "auroc": test[last][s][0], "auprc": test[last][s][1]}
           for s in SCORES + EXTRA_SCORES if s in test[last]]
    s, epoch = select(history, "auto", "best_val")        # the paper's rule, as the detector applies it
    out.append({"rule": "val/auto", "score": s, "epoch": epoch, "auroc": test[epoch][s][0],
                "auprc": test[epoch][s][1]})
    return out


def rows_from_epochs(history: list[dict], test: dict[int, tuple[float, float]]) -> list[dict]:
    """Test AUROC/AUPRC of a baseline under :data:`BASELINE_RULES`, from its ``history_`` (entries with
    ``epoch`` and ``val_auroc``) and ``test``, epoch -> (test AUROC, test AUPRC) recorded after each epoch."""
    if not history or any("val_auroc" not in h for h in history):
        raise ValueError("the history needs a validation AUROC (val_auroc) for every epoch")
    missing = sorted({int(h["epoch"]) for h in history} - set(test))
    if missing:
        raise ValueError(f"no test AUROC was recorded for epochs {missing}")
    last, best = int(history[-1]["epoch"]), best_epoch(history)    # on ties the latest epoch, as select
    return [{"rule": rule, "score": "", "epoch": e, "auroc": test[e][0], "auprc": test[e][1]}
            for rule, e in zip(BASELINE_RULES, (last, best))]


class _TestMonitor:
    """The runner's per-epoch callback ``(epoch, detector)``: the test AUROC and AUPRC of each epoch, for
    reporting only (the estimator never sees the test data)."""

    def __init__(self, X, y):
        self.X, self.y, self.record = X, y, {}

    def __call__(self, epoch: int, detector) -> None:
        s = detector.decision_function(self.X)
        self.record[int(epoch)] = (auroc(self.y, s), auprc(self.y, s))


class _TestScores:
    """The runner's per-epoch callback ``(epoch, detector)`` for AA-BiGAN: the test AUROC and AUPRC of every
    score the detector records (``score_samples_all``: both of the paper's, and ``features`` for a run with that
    score), with the networks of each epoch, for reporting only (the estimator never sees the test data)."""

    def __init__(self, X, y):
        self.X, self.y, self.record = X, y, {}

    def __call__(self, epoch: int, detector) -> None:
        self.record[int(epoch)] = {name: (auroc(self.y, s), auprc(self.y, s))
                                   for name, s in detector.score_samples_all(self.X).items()}


def _base_row(cfg: RunConfig) -> dict:
    import torch

    return {"config_hash": cfg.hash, "dataset": cfg.dataset, "method": cfg.method,
            "normal_class": cfg.normal_class, "known_classes": " ".join(map(str, cfg.known_classes)),
            "k_l": len(cfg.known_classes) if cfg.gamma_l > 0 else 0, "gamma_l": cfg.gamma_l,
            "gamma_p": cfg.gamma_p, "seed": cfg.seed, "profile": cfg.profile, "aabigan_version": __version__,
            "torch_version": torch.__version__, "python_version": platform.python_version(),
            "commit": _commit(), "settings": json.dumps({**cfg.params(), **cfg.split_options()}, sort_keys=True)}


def _split(cfg: RunConfig):
    """The config's split; for a method without labels, the collected anomalies are left out of X."""
    split = make_split(cfg.dataset, cfg.normal_class, cfg.known_classes if cfg.gamma_l > 0 else (),
                       n_known_classes=0, gamma_l=cfg.gamma_l, gamma_p=cfg.gamma_p, seed=cfg.seed,
                       **cfg.split_args())
    X, y = split.X_train, split.y_train
    if not METHODS[cfg.method].uses_labels:
        keep = y == 0          # the collected anomalies are left out, not relabelled as normal
        X, y = X[keep], y[keep]
    return split, X, y


def _build(cfg: RunConfig):
    settings = dict(cfg.settings())
    settings.setdefault("random_state", cfg.seed)
    return METHODS[cfg.method].build(settings)


def _rows(cfg: RunConfig, model, split, seconds: float, test: dict | None = None) -> list[dict]:
    """The run's rows under its method's rules; ``test``: the test scores per epoch (:func:`_fit`)."""
    if METHODS[cfg.method].per_epoch:
        results = rows_from_history(model.history_, test)
    elif METHODS[cfg.method].by_epoch:
        results = rows_from_epochs(model.history_, test)
    else:
        s = model.decision_function(split.X_test)
        results = [{"rule": "fixed", "score": "", "epoch": "", "auroc": auroc(split.y_test, s),
                    "auprc": auprc(split.y_test, s)}]
    extra = {"status": "ok", "n_train_normal": split.info["n_normal"], "n_collected": split.info["n_collected"],
             "n_polluted": split.info["n_polluted"], "fit_seconds": round(seconds, 3),
             "device": _device_name(getattr(model, "device_", "cpu")), "error": ""}
    return _stamp([{**_base_row(cfg), **extra, **r} for r in results])


def _curve_rows(cfg: RunConfig, model, split, seconds: float, test: dict | None = None) -> list[dict]:
    """One row per epoch: validation and test AUROC of both scores, the losses and the steps so far (the test
    columns are for reporting: nothing is chosen with them)."""
    if not METHODS[cfg.method].per_epoch:
        raise ValueError(f"a learning curve needs a method reported per epoch; {cfg.method!r} is not one")
    n = int(split.info["n_normal"])
    per_epoch = max(1, n // min(int(model.batch_size), max(1, n)))   # the trainer drops an incomplete batch
    extra = {"status": "ok", "fit_seconds": round(seconds, 3),
             "device": _device_name(getattr(model, "device_", "cpu")), "error": ""}
    out = []
    for h in model.history_:
        out.append({**_base_row(cfg), **extra, "epoch": h["epoch"], "steps": h["epoch"] * per_epoch,
                    "loss_d": h["loss_d"], "loss_ge": h["loss_ge"],
                    **{f"val_auroc_{s}": h[f"val_auroc_{s}"] for s in SCORES},
                    **{f"test_auroc_{s}": test[h["epoch"]][s][0] for s in SCORES}})
    return _stamp(out, CURVE_FIELDS)


def _stamp(rows: list[dict], fields=ROW_FIELDS) -> list[dict]:
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return [{k: r.get(k, "") for k in fields} | {"finished_at": stamp} for r in rows]


def _failed(cfg: RunConfig, exc: BaseException, fields=ROW_FIELDS) -> list[dict]:
    if os.environ.get("AABIGAN_RAISE"):
        traceback.print_exc()
    return _stamp([{**_base_row(cfg), "status": "failed", "rule": "", "error": f"{type(exc).__name__}: {exc}"[:500]}],
                  fields)


#: the settings of a profile's image schedule: a config overriding one of them trains a schedule nobody measured
_SCHEDULE_KEYS = frozenset({"epochs", "min_steps", "batch_size", "neg_batch_size", "width"})


def _measured(cfg) -> bool:
    """Whether ``cfg`` trains its profile's measured image schedule, unchanged (:attr:`Profile.measured_image_schedule`)."""
    return (cfg.family == "image" and get_profile(cfg.profile).measured_image_schedule
            and not _SCHEDULE_KEYS & {k for k, _ in cfg.overrides})


@contextlib.contextmanager
def _quiet_short_fits(profile: str, measured: bool = False):
    """Runs that are short on purpose do not warn that they are (:class:`ShortFitWarning`): every run of the
    smoke profile, and a run at a schedule the learning-curve study measured to be enough (``measured``,
    :func:`_measured`)."""
    with warnings.catch_warnings():
        if profile == "smoke" or measured:
            warnings.simplefilter("ignore", ShortFitWarning)
        yield


def _test_callback(split, per_epoch: bool):
    """The callback that records the test scores of each epoch: of every score (AA-BiGAN, ``per_epoch``) or
    of the baseline's one score."""
    return (_TestScores if per_epoch else _TestMonitor)(split.X_test, split.y_test)


def _fit(model, split, X, y, per_epoch: bool, cfg, by_epoch: bool = False) -> dict | None:
    """Fit as the method's rules need; for a method reported per epoch (AA-BiGAN, ``per_epoch``: {epoch:
    {score: (auroc, auprc)}}) or a baseline that trains by epochs ({epoch: (auroc, auprc)}), returns the test
    AUROC and AUPRC of each epoch, recorded by the runner's callback (the estimator gets only the validation
    split)."""
    with _quiet_short_fits(cfg.profile, _measured(cfg)):
        if per_epoch or by_epoch:
            test = _test_callback(split, per_epoch)
            model.fit(X, y, eval_set=(split.X_val, split.y_val), callbacks=(test,))
            return test.record
        model.fit(X, y)
    return None


def load_or_train(cfg: RunConfig, path) -> AABiGAN:
    """The AA-BiGAN detector saved at ``path`` when the file exists, else ``cfg`` trained as the runner trains
    it and saved there.  The file carries the config and its provenance (profile, seed, settings, versions,
    commit, device: the columns of a result row), returned as the detector's ``saved_info_``; a saved file
    whose config differs from ``cfg`` is an error, not a silent substitute."""
    path = Path(path)
    if not METHODS[cfg.method].is_aabigan:
        raise ValueError(f"load_or_train keeps AA-BiGAN detectors; {cfg.method!r} is not one")
    if path.is_file():
        det = AABiGAN.load(path)
        if det.saved_info_.get("config_hash") != cfg.hash:
            raise ValueError(f"{path} holds a model of config {det.saved_info_.get('config_hash')!r}, not {cfg.hash!r}"
                             f" ({cfg}); delete the file to retrain")
        return det
    split, X, y = _split(cfg)
    det = _build(cfg)
    _fit(det, split, X, y, per_epoch=True, cfg=cfg)
    info = _base_row(cfg) | {"device": _device_name(det.device_), "fit_seconds": round(float(det.fit_seconds_), 3),
                             "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path.parent.mkdir(parents=True, exist_ok=True)
    det.save(path, info=info)
    det.saved_info_ = info
    return det


#: the two detectors behind Figures 4-6: F-MNIST, normal class T-shirt/top, collected Trousers or none
FIGURE_MODELS = {"γ_l = 0.1": (0.1, (1,)), "γ_l = 0.0": (0.0, ())}


def figure_models(directory, profile: str) -> dict[str, AABiGAN]:
    """The detectors of Figures 4-6 (:data:`FIGURE_MODELS`), by label: the committed ``cpu``-profile files in
    ``directory`` (read by :func:`load_or_train`) of the newest definition of the profile that has all of them
    -- today's, else a superseded one (files ``...-cpu@1.npz``); the detector's ``saved_info_["protocol"]``
    names it.  Where no definition has every file, the same configs trained now in ``profile`` and kept in a
    scratch folder, never beside the committed files."""
    import tempfile

    def path(gamma, version, folder):
        return Path(folder) / f"fmnist-normal0-collected1-gamma{gamma}-{version}.npz"

    # one protocol for all of them: the newest whose every file is committed (the figures never mix two)
    version = next((v for v in versions_of("cpu")
                    if all(path(g, v, directory).is_file() for g, _ in FIGURE_MODELS.values())), None)
    folder = directory if version else Path(tempfile.mkdtemp())
    version = version or profile
    out = {}
    for label, (gamma, known) in FIGURE_MODELS.items():
        out[label] = load_or_train(RunConfig("fmnist", "aabigan", 0, known, gamma, 0.0, 0, version),
                                   path(gamma, version, folder))
        out[label].saved_info_["protocol"] = version
    return out


#: what a run reports: its rows under the selection rules, or its learning curve; with the results schema
REPORTS = {"rules": (RUN_SCHEMA, _rows), "curve": (CURVE_SCHEMA, _curve_rows)}


def run_one(cfg: RunConfig, report: str = "rules") -> list[dict]:
    """Train and evaluate one config; returns its result rows (a single failed row on error): one per selection
    rule (``report="rules"``), or one per epoch (``"curve"``, :data:`aabigan.store.CURVE_SCHEMA`)."""
    schema, rows_of = REPORTS[report]
    try:
        split, X, y = _split(cfg)
        model = _build(cfg)
        method = METHODS[cfg.method]
        t0 = time.perf_counter()
        test = _fit(model, split, X, y, method.per_epoch, cfg, method.by_epoch)
        return rows_of(cfg, model, split, getattr(model, "fit_seconds_", None) or (time.perf_counter() - t0), test)
    except Exception as exc:  # recorded as failed, never as a number
        return _failed(cfg, exc, list(schema.fields))


def _stack_key(cfg: RunConfig):
    """Configs with equal keys can be trained as one stack of AA-BiGAN runs (:mod:`aabigan.stacked`): the seeds
    of a tabular cell, or the class pairs (and seeds) of an image cell."""
    if not METHODS[cfg.method].is_aabigan:
        return None
    if cfg.family == "tabular":
        return (cfg.dataset, cfg.method, cfg.normal_class, cfg.known_classes, cfg.gamma_l, cfg.gamma_p, cfg.profile,
                cfg.overrides)
    return ("image", cfg.dataset, cfg.method, len(cfg.known_classes), cfg.gamma_l, cfg.gamma_p, cfg.profile,
            cfg.overrides)


def run_stacked(cfgs: list[RunConfig]) -> list[list[dict]]:
    """Train configs of one stack key (:func:`_stack_key`) as stacked trainings; rows per config.  Runs whose
    data sizes differ (class pairs with other numbers of normal images) go into stacks of their own.

    Falls back to one run at a time when stacking fails (e.g. one run diverges), so a failure is
    recorded for the run it belongs to.
    """
    from .detector import fit_stacked

    if len(cfgs) < 2 or len({_stack_key(c) for c in cfgs}) != 1 or _stack_key(cfgs[0]) is None:
        return [run_one(c) for c in cfgs]
    try:
        prepared = [_split(c) for c in cfgs]
        models = [_build(c) for c in cfgs]
        groups: dict[tuple, list[int]] = {}
        for i, (sp, X, y) in enumerate(prepared):
            groups.setdefault((X.shape, int(y.sum()), sp.X_val.shape, sp.X_test.shape), []).append(i)
        tests = [_test_callback(sp, per_epoch=True) for sp, _, _ in prepared]
        with _quiet_short_fits(cfgs[0].profile, all(_measured(c) for c in cfgs)):
            for idx in groups.values():
                fit_stacked([models[i] for i in idx],
                            [(prepared[i][1], prepared[i][2], (prepared[i][0].X_val, prepared[i][0].y_val),
                              (tests[i],)) for i in idx])
        return [_rows(c, m, sp, m.fit_seconds_, t.record) for c, m, (sp, _, _), t in zip(cfgs, models, prepared, tests)]
    except Exception:
        return [run_one(c) for c in cfgs]


# ---------------------------------------------------------------------------------------- the runner
def _report_schema(report: str):
    """The results schema a report writes: :data:`REPORTS`'s, or the FID cells' (:mod:`aabigan.fid`)."""
    if report == "fid":
        from .store import FID_SCHEMA
        return FID_SCHEMA
    if report not in REPORTS:
        raise ValueError(f"unknown report {report!r}; choose one of {', '.join([*REPORTS, 'fid'])}")
    return REPORTS[report][0]


def _check_configs(configs: list, report: str) -> None:
    """An FID report takes FID configs and the others run configs: a mix-up is an error before the file opens."""
    from .fid import FidConfig

    want = FidConfig if report == "fid" else RunConfig
    wrong = [c for c in configs if not isinstance(c, want)]
    if wrong:
        raise TypeError(f"report={report!r} runs {want.__name__}s; got {type(wrong[0]).__name__} {wrong[0]}")


def _label(cfg) -> str:
    """A config in the progress bar."""
    if isinstance(cfg, RunConfig):
        return f"{cfg.dataset}/{cfg.method}/s{cfg.seed}"
    return f"{cfg.dataset}/{cfg.objective}/{cfg.anomaly_class}/s{cfg.seed}"


def _run_batch(batch: list, report: str = "rules") -> list[list[dict]]:
    if report == "fid":
        from .fid import run_one_fid
        return [run_one_fid(c) for c in batch]
    if report != "rules":
        return [run_one(c, report) for c in batch]
    return run_stacked(batch) if len(batch) > 1 else [run_one(batch[0])]


@functools.lru_cache(maxsize=None)
def _n_records(dataset: str) -> int:
    from .data import odds_statistics

    return int(odds_statistics(dataset)["n_samples"])


def _cost(batch: list[RunConfig]) -> float:
    """A rough relative cost of a batch (steps x runs), to hand the longest work to the workers first."""
    cfg = batch[0]
    s = cfg.settings()
    steps = float(s.get("epochs", 1))
    if cfg.family == "tabular":
        steps = max(steps * 0.6 * _n_records(cfg.dataset) / float(s.get("batch_size", 128)),
                    float(s.get("min_steps", 0)))
    return steps * len(batch)


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _run_batch_threads(batch: list[RunConfig], report: str, threads: int | None) -> list[list[dict]]:
    """:func:`_run_batch` with ``threads`` torch threads (a worker of an executor that has no initializer)."""
    if threads:
        _init_worker(threads)
    return _run_batch(batch, report)


def _from_executor(executor, batches, report: str, threads: int | None):
    """(batch, its rows per config) as each batch finishes on ``executor`` (a ``concurrent.futures``
    executor: a process pool, or a Dask cluster's ``client.get_executor()``)."""
    from concurrent.futures import as_completed

    futures = {executor.submit(_run_batch_threads, batch, report, threads): batch for batch in batches}
    try:
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


def _results(batches, workers: int, threads: int | None, report: str = "rules", executor=None):
    """(batch, its rows per config) as each batch finishes: here, on ``executor``, or in ``workers`` fresh
    processes."""
    if executor is not None:
        yield from _from_executor(executor, batches, report, threads)
        return
    if workers <= 1:
        for batch in batches:
            yield batch, _run_batch(batch, report)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    ctx = multiprocessing.get_context("spawn")      # no fork of a process whose OpenMP threads are running
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
        yield from _from_executor(pool, batches, report, None)


def dask_executor(address: str = "local", workers: int = 2, resources: dict | None = None):
    """A ``concurrent.futures`` executor on a Dask distributed cluster, for :func:`run_grid` (``executor=``):
    ``address`` ``"local"`` starts a ``LocalCluster`` of ``workers`` one-thread worker processes; otherwise it
    is a scheduler's address (``tcp://host:8786``; a Slurm allocation through dask-jobqueue gives one).
    ``resources``, e.g. ``{"GPU": 1}``, is asked of the worker of every task (workers started with
    ``--resources GPU=1``).  Needs the optional extra: ``pip install aabigan[dask]``.  Returns (executor,
    client); close the client when the grid is done."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the Dask executor needs the distributed package: pip install 'aabigan[dask]'") from None
    if address == "local":
        client = Client(LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                     dashboard_address=None))
    else:
        client = Client(address)
    return client.get_executor(resources=resources) if resources else client.get_executor(), client


def expected_rules(cfg: RunConfig) -> set[str]:
    """The selection rules a finished run of ``cfg`` has a row for (:attr:`Method.rules`): :data:`RULES` for
    AA-BiGAN, :data:`BASELINE_RULES` for a baseline that trains by epochs, else :data:`FIXED_RULES`.  A
    baseline run written before its method had epoch rules (one ``fixed`` row) is therefore not done: a grid
    trains it again and its new rows replace the old."""
    method = METHODS[cfg.method]
    if method.per_epoch:                 # an extra score adds its last-epoch rule (aabigan.selection)
        return set(aabigan_rules(cfg.settings().get("score", "auto")))
    return set(method.rules)


def protocol_of(row: dict) -> str | None:
    """The profile, or superseded definition of it (``"cpu@1"``, :data:`aabigan.profiles.SUPERSEDED`), whose
    config rebuilt from the row (:meth:`RunConfig.from_row`) hashes to the row's ``config_hash``: the protocol
    that wrote it.  None when no definition does (a method or setting this version cannot rebuild)."""
    for version in versions_of(row["profile"].split("@")[0]):
        try:
            if RunConfig.from_row({**row, "profile": version}).hash == row["config_hash"]:
                return version
        except (KeyError, ValueError):
            continue
    return None


def rows_of_protocol(rows: Iterable[dict], version: str) -> list[dict]:
    """The rows written under ``version``: a profile as defined today (``"cpu"``) or a superseded definition of
    it (``"cpu@1"``), as :func:`protocol_of` tells (once per config)."""
    protocol: dict[str, str | None] = {}
    out = []
    for r in rows:
        if r["profile"].split("@")[0] == version.split("@")[0]:
            if r["config_hash"] not in protocol:
                protocol[r["config_hash"]] = protocol_of(r)
            if protocol[r["config_hash"]] == version:
                out.append(r)
    return out


def current_rows(rows: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """``(current, stale)``: the rows written under the protocol their profile defines today
    (:func:`protocol_of` is the profile's plain name), and the others: rows written before their profile
    changed (a superseded definition, which a grid would train again), or whose method or settings this
    version cannot rebuild.  Tables and chapters show the current rows; the stale ones stay in their files.
    A row without a ``config_hash`` (made by hand) cannot be checked and counts as current."""
    current, stale, known = [], [], {"": True}
    for r in rows:
        h = r.get("config_hash") or ""
        if h not in known:
            known[h] = protocol_of(r) == r["profile"]
        (current if known[h] else stale).append(r)
    return current, stale


def pending(configs: Iterable[RunConfig], rows: Iterable[dict], report: str = "rules") -> list[RunConfig]:
    """The configs (duplicates dropped, order kept) that ``rows`` do not hold complete: a run is done only
    when an ok row of every one of its rules (:func:`expected_rules`) is there; a learning curve
    (``report="curve"``, written in one piece) when it has ok rows; an FID cell (``report="fid"``) when it
    has an ok row of its hash and rule."""
    configs = list(dict.fromkeys(configs))
    if report == "curve":
        done = {r["config_hash"] for r in rows if r.get("status") == "ok"}
    elif report == "fid":              # an FID cell (aabigan.fid.FidConfig) has one row, under its rule
        done = complete_keys(rows, {c.hash: {c.rule} for c in configs})
    else:
        done = complete_keys(rows, {c.hash: expected_rules(c) for c in configs})
    return [c for c in configs if c.hash not in done]


def run_grid(configs: Iterable[RunConfig], out, progress: bool = True, stack: int = 1, workers: int = 1,
             threads: int | None = None, report: str = "rules", executor=None) -> dict:
    """Run every config not yet done in ``out``; write each run's rows as it finishes.

    The results file is opened through :class:`aabigan.store.ResultsFile` before anything is trained: it is
    locked against a second runner, its existing rows are checked (a malformed line is an error naming it),
    and each run's rows are written all at once or not at all.  A run counts as done only when all its rows
    are there (:func:`pending`); an incomplete one is trained again and its new rows replace the old.

    ``stack > 1`` trains up to that many AA-BiGAN configs of one cell together (the seeds of a tabular cell,
    the class pairs of an image cell: :func:`run_stacked`); their rows are written when the stack finishes.  ``workers > 1`` trains that
    many runs (or stacks) at once in fresh worker processes, each with ``threads`` torch threads (default:
    the cores shared out); the rows are written here, in the order the runs finish.  Workers import the
    package anew, so only methods registered by the package itself are available to them.  Returns counts:
    {"done_before": ..., "ran": ..., "failed": ...}.  Safe to interrupt and call again.

    ``executor``: any ``concurrent.futures``-style executor (e.g. a Dask cluster's, :func:`dask_executor`)
    trains the runs or stacks instead, with ``threads`` torch threads each when given; this process alone
    writes the rows, so resume and integrity are as above.

    ``report="curve"``: each run writes its learning curve instead (:data:`aabigan.store.CURVE_SCHEMA`, one
    row per epoch: validation and test AUROC of both scores), to a file of curves; runs are not stacked.

    ``report="fid"``: the configs are Table 4 cells (:class:`aabigan.fid.FidConfig`), each written as one row of
    :data:`aabigan.store.FID_SCHEMA` (:func:`aabigan.fid.run_one_fid`), with the same lock, resume and replace.
    """
    if int(workers) < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    schema = _report_schema(report)
    configs = list(dict.fromkeys(configs))            # drop duplicates, keep order
    _check_configs(configs, report)
    out = Path(out)
    stack = stack if report == "rules" else 1
    _commit()                                         # the commit of the code as the grid starts
    with ResultsFile(out, schema) as store:
        todo = pending(configs, store.rows, report)
        started = {r["config_hash"] for r in store.rows if r["status"] == "ok"}
        counts = {"done_before": len(configs) - len(todo), "ran": 0, "failed": 0}
        batches: list[list[RunConfig]] = []
        open_stacks: dict[tuple, list[RunConfig]] = {}   # configs of one stack key go together, up to `stack`
        for cfg in todo:
            key = _stack_key(cfg) if stack > 1 else None
            if key is not None and key in open_stacks and len(open_stacks[key]) < stack:
                open_stacks[key].append(cfg)
                continue
            batches.append([cfg])
            if key is not None:
                open_stacks[key] = batches[-1]
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(configs), initial=counts["done_before"], desc=f"runs -> {out.name}", unit="run")
        if workers > 1 or executor is not None:
            unknown = sorted({c.method for c in todo if isinstance(c, RunConfig) and c.method not in BUILT_IN_METHODS})
            if unknown:
                raise ValueError(f"methods {unknown} were registered at run time; worker processes cannot see "
                                 "them (use workers=1)")
            batches.sort(key=_cost, reverse=True)    # longest first: the workers finish close together
        for batch, results in _results(batches, int(workers), threads, report, executor):
            for cfg, rows in zip(batch, results):
                ok = rows[0]["status"] == "ok"
                store.append(rows, replace={cfg.hash} if ok and cfg.hash in started else ())
                counts["ran"] += 1
                counts["failed"] += not ok
            if bar is not None:
                bar.update(len(batch))
                bar.set_postfix(last=_label(cfg), failed=counts["failed"])
        if bar is not None:
            bar.close()
    return counts


# ------------------------------------------------------------------------------------------- grids
def _seeds(profile, seeds):
    return list(seeds) if seeds is not None else list(range(get_profile(profile).n_seeds_tabular))


#: the methods of the paper's ODDS tables (Table 2 is a subset of Table 8), plus AA-BiGAN without anomalies
TABLE2_METHODS = ("aabigan", "aabigan-unsup", "aad", "ssad-hybrid", "supervised", "deepsad")
TABLE8_METHODS = TABLE2_METHODS + ("ocsvm-hybrid", "cae", "nda", "deepsvdd", "ssdgm")


def _grid_odds(profile, datasets=None, methods=None, seeds=None, gamma_ls=(0.01,), default=TABLE2_METHODS):
    datasets = [canonical_name(d) for d in (datasets or ODDS_DATASETS)]
    methods = methods or list(default)
    return [RunConfig(d, m, 0, (1,), g, 0.0, s, profile) for d in datasets for g in gamma_ls for m in methods
            for s in _seeds(profile, seeds) if g > 0 or not _needs_anomalies(m)]


def _needs_anomalies(method: str) -> bool:
    """Whether a grid leaves ``method`` out of a cell without collected anomalies (an unknown name is left to
    :class:`RunConfig` to refuse)."""
    return method in METHODS and METHODS[method].needs_anomalies


#: chapter 8's ablations (issue 14), variant -> (the explanation of AA-BiGAN's gap it tests, overrides); each
#: variant is a config of its own, trained on satellite and arrhythmia (:func:`grid` ``"ablations"``).  ``plain``
#: is Table 2's config trained again beside the variants: training numbers differ between CPUs in the last
#: digits and then by points (chapter 8), so every variant is compared with a control from the same machine.
AUTHORS_CHOICES = (("recon_weight", 1 / 3), ("betas", (0.5, 0.9)), ("lr_step_every", 100), ("lr_step_gamma", 0.98),
                   ("ratio_of", "train"), ("batch_size", 200), ("neg_batch_size", 50))
ODDS_ABLATIONS = MappingProxyType({
    "plain": ("the control: Table 2's config, trained beside the variants", ()),
    "deepsad-split": ("the Deep SAD loader's leaky split lifted the published numbers",
                      (("odds_split", "deepsad-reused-rng"),)),
    "authors-recipe": ("the authors' training choices, all at once", AUTHORS_CHOICES),
    "d-prime-1/3": ("the authors' D' weight of 1/3", (("recon_weight", 1 / 3),)),
    "betas-0.9": ("the authors' Adam betas (0.5, 0.9)", (("betas", (0.5, 0.9)),)),
    "step-decay": ("the authors' step decay (x0.98 every 100 epochs)", (("lr_step_every", 100), ("lr_step_gamma", 0.98))),
    "gamma-share": ("gamma_l as a share of the training set", (("ratio_of", "train"),)),
    "batch-200+50": ("the authors' batch of 200 normals + 50 anomalies", (("batch_size", 200), ("neg_batch_size", 50))),
    "features-score": ("a discriminator-feature score (ALAD's) ranks better", (("score", "features"),)),
    "mlp-128-32": ("the networks are too large for these tables (hidden 128-32)", (("hidden", (128, 32)),)),
    "lr-equal": ("D learns too slowly (lr_d = lr_ge = 1e-4)", (("lr_d", 1e-4),)),
    "ema-0.99": ("the last epoch is a noisy draw (EMA of the G/E weights, decay 0.99)", (("ema_decay", 0.99),)),
})
#: the variants that change the data rather than AA-BiGAN: the baselines are trained under them too
DATA_VARIANTS = ("plain", "deepsad-split")
#: the baselines trained beside AA-BiGAN under :data:`DATA_VARIANTS` (the other variants are AA-BiGAN's own)
ABLATION_BASELINES = ("deepsad", "supervised", "aad", "ssad-hybrid")


def _grid_ablations(datasets=None, methods=None, seeds=None, variants=None) -> list[RunConfig]:
    """Every variant of :data:`ODDS_ABLATIONS` for AA-BiGAN on the ``cpu`` profile, gamma_l = .01, 10 seeds (the
    :data:`DATA_VARIANTS` also for :data:`ABLATION_BASELINES`); default datasets satellite and arrhythmia."""
    datasets = [canonical_name(d) for d in (datasets or ("satellite", "arrhythmia"))]
    unknown = [v for v in variants or () if v not in ODDS_ABLATIONS]
    if unknown:
        raise ValueError(f"unknown ablation variant(s) {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(ODDS_ABLATIONS)}")
    out = []
    for v in variants or ODDS_ABLATIONS:
        overrides = ODDS_ABLATIONS[v][1]
        names = methods or (("aabigan",) + (ABLATION_BASELINES if v in DATA_VARIANTS else ()))
        out += [RunConfig(d, m, 0, (1,), 0.01, 0.0, s, "cpu", overrides) for d in datasets for m in names
                for s in _seeds("cpu", seeds) if m == "aabigan" or v in DATA_VARIANTS]
    return out


def ablation_variant(cfg: RunConfig) -> str | None:
    """The name of the :data:`ODDS_ABLATIONS` variant ``cfg`` is, or None."""
    return next((v for v, (_, o) in ODDS_ABLATIONS.items() if tuple(sorted(o)) == tuple(cfg.overrides)), None)


def _pairs(profile, pairs):
    return pairs if pairs is not None else get_profile(profile).class_pairs()


def _known(normal: int, first: int, k: int) -> tuple[int, ...]:
    """k collected classes: ``first`` and the next classes after it, skipping the normal class."""
    order = [(first + j) % 10 for j in range(10)]
    return tuple(c for c in order if c != normal)[:k]


def _grid_images(profile, datasets, methods, pairs, cells, seeds):
    datasets = [canonical_name(d) for d in (datasets or IMAGE_DATASETS)]
    methods = methods or ["aabigan"]
    seeds = list(seeds) if seeds is not None else [0]
    out = []
    for d in datasets:
        for gamma_l, gamma_p, k, overrides in cells:
            for n, first in _pairs(profile, pairs):
                for m in methods:
                    if gamma_l == 0 and _needs_anomalies(m):
                        continue              # the supervised classifier has nothing to learn from here
                    for s in seeds:
                        known = _known(n, first, k) if gamma_l > 0 else ()
                        out.append(RunConfig(d, m, n, known, gamma_l, gamma_p, s, profile, overrides))
    return list(dict.fromkeys(out))   # at gamma_l = 0 the pairs of one normal class are one config


#: the convergence study of the image networks (issue 13): (normal, collected) pairs, widths, and the CPU
#: schedule it measures -- batch 64 + 16 for up to the paper's ~6000 steps, validation and test AUROC per epoch
CONVERGENCE = {"pairs": ((0, 1), (3, 4), (7, 8)), "cifar10_pairs": ((0, 1),), "widths": (16, 32),
               "settings": (("batch_size", 64), ("neg_batch_size", 16), ("epochs", 1), ("min_steps", 6000))}


def _grid_convergence(datasets, methods, pairs, seeds):
    """The convergence study: the ``paper`` profile's data (every normal training image of the class, the
    whole test split) with :data:`CONVERGENCE`'s networks and schedule, gamma_l = 0.05; widths in the outer
    loop, so the cheaper width's curves come first."""
    datasets = [canonical_name(d) for d in (datasets or IMAGE_DATASETS)]
    out = []
    for w in CONVERGENCE["widths"]:
        for d in datasets:
            for n, first in (pairs or (CONVERGENCE["cifar10_pairs"] if d == "cifar10" else CONVERGENCE["pairs"])):
                for m in methods or ["aabigan"]:
                    for s in (seeds if seeds is not None else [0]):
                        out.append(RunConfig(d, m, n, (first,), 0.05, 0.0, s, "paper",
                                             CONVERGENCE["settings"] + (("width", w),)))
    return out


def grid(name: str, profile: str | None = None, datasets=None, methods=None, seeds=None, pairs=None,
         variants=None) -> list[RunConfig]:
    """The configs of a paper table: 'table1', 'table2' (= 'table8'), 'table5', 'table6', 'table7'; and
    'convergence', the learning-curve study of the image networks (always on the ``paper`` profile's data,
    :func:`_grid_convergence`; run it with ``report="curve"``); 'ablations', chapter 8's tests of why AA-BiGAN
    trails on ODDS (always the ``cpu`` profile, :func:`_grid_ablations`; ``variants``: some of
    :data:`ODDS_ABLATIONS`, default all)."""
    if variants is not None and name != "ablations":
        raise ValueError(f"variants choose among the ablations; grid {name!r} has none")
    if name == "convergence":
        return _grid_convergence(datasets, methods, pairs, seeds)
    if name == "ablations":
        return _grid_ablations(datasets, methods, seeds, variants)
    profile = get_profile(profile).name if profile is None else profile
    get_profile(profile)                       # an unknown name fails here; "cpu@1" stays itself
    if name in ("table2", "table8"):
        return _grid_odds(profile, datasets, methods, seeds, default=TABLE2_METHODS if name == "table2" else TABLE8_METHODS)
    if name == "gamma_sweep":
        return _grid_odds(profile, datasets, methods, seeds, gamma_ls=(0.0, 0.005, 0.01, 0.05, 0.1),
                          default=("aabigan", "deepsad", "supervised", "ssad-hybrid"))
    if name not in GRIDS or name not in TABLE_CELLS:
        raise ValueError(f"unknown grid {name!r}; choose one of {', '.join(GRIDS)}")
    scope = TABLE_SCOPE.get(name, {})          # Table 5: AA-BiGAN on F-MNIST only, as in the paper
    if scope:
        datasets = [canonical_name(d) for d in (datasets or scope["dataset"])]
        methods = list(methods or scope["method"])
        for what, chosen in (("dataset", datasets), ("method", methods)):
            if set(chosen) - set(scope[what]):
                raise ValueError(f"grid {name!r} is run with {what} {', '.join(scope[what])} only (the paper's); "
                                 f"its rows of {', '.join(sorted(set(chosen) - set(scope[what])))} would be in no table")
    cells = [(c.gamma_l, c.gamma_p, c.k_l, c.overrides()) for c in TABLE_CELLS[name]]    # aabigan.paper_tables
    return _grid_images(profile, datasets, methods, pairs, cells, seeds)


GRIDS = ("table1", "table2", "table5", "table6", "table7", "table8", "gamma_sweep", "convergence", "ablations")
