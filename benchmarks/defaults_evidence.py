"""Evidence for ``AABiGAN``'s defaults on data they were not chosen on (chapter 15, issue 12).

    python benchmarks/defaults_evidence.py --out results/defaults-evidence.csv      # about 15 CPU-minutes

Tasks (``name:normal_class[:minmax]``): scikit-learn's bundled breast-cancer table (benign, class 1, as
normal) and wine table (each class as normal in turn), with features standardised on the training part only
(``StandardScaler``, as a user would); the same tables also scaled to [0, 1] as ``make_split`` scales an ODDS
table (``:minmax``; breast cancer with malignant, class 0, as normal: 127 training rows); and four ODDS tables
(thyroid, cardio, satellite, arrhythmia) under Deep SAD's split with fresh seeds (100-102; the committed ODDS
rows use seeds 0-9).  The scikit-learn tables are split like an ODDS table (60 / 40 stratified, gamma_l =
0.01 collected anomalies, rounded: breast cancer gets one or two, wine none).

One training per (task, seed), as long as the longest recipe compared, with an exponential moving average
(decay 0.99) of E and G kept beside the raw weights.  The average does not touch the raw weights or any
random draw, and a run's draws do not depend on how long it will train, so the test AUROC read at a
checkpoint epoch is exactly what a fit of that length gives, with (``ema``) or without (``raw``) the average,
under each score.  Each (task, seed) is also fitted once through the public API with the *old* defaults
(``AABiGAN(random_state=seed)`` before issue 12: 100 epochs, no step floor, no average) and the script
asserts that this equals the checkpoint read at epoch 100 -- the check that the reading is faithful --
and (``--check-new``, after the defaults were set) on the first seed of each task once with the *new*
defaults, which must equal their checkpoint.

``--baselines`` adds, without training, the AUROC of ||x||^2 and of the reconstruction error of the networks
as initialised (step 0) for every task and seed.

Rows (long format): task, dataset, normal_class, seed, setting (``raw|ema/reconstruction|latent``,
``api/old-defaults``, ``api/new-defaults``, ``baseline/squared-norm``, ``untrained/reconstruction``), epoch,
steps, auroc, sizes, provenance.

Written so: ``python benchmarks/defaults_evidence.py`` (the probe runs), ``--baselines``, then ``--check-new
--tasks breast_cancer:0:minmax,wine:0:minmax``.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aabigan import AABiGAN, __version__  # noqa: E402
from aabigan.data import make_split  # noqa: E402
from aabigan.nets import build_networks  # noqa: E402
from aabigan.scores import auroc, compute_scores  # noqa: E402

#: The detector's defaults before issue 12 (what ``AABiGAN()`` trained).
OLD_DEFAULTS = dict(epochs=100, min_steps=0, ema_decay=None, score="reconstruction")
STEP_CHECKPOINTS = (100, 300, 1000, 2000, 3000, 5000)
FIELDS = ["task", "dataset", "normal_class", "seed", "setting", "epoch", "steps", "auroc", "n_train_normal",
          "n_collected", "n_test", "n_test_anomalies", "aabigan_version", "torch_version", "device", "commit",
          "finished_at"]
SKLEARN_TASKS = ["breast_cancer:1", "wine:0", "wine:1", "wine:2", "breast_cancer:0:minmax", "wine:0:minmax"]
ODDS_TASKS = ["thyroid", "cardio", "satellite", "arrhythmia"]


def sklearn_split(name: str, normal_class: int, seed: int, gamma_l: float = 0.01, scaling: str = "standard"):
    """(X_train, y_train, X_test, y_test) of a bundled scikit-learn table with one class as normal.

    ``scaling="standard"``: standardised on the training part; ``"minmax"``: then also min-max scaled to
    [0, 1] on it, as ``make_split`` scales an ODDS table."""
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    X, labels = {"breast_cancer": load_breast_cancer, "wine": load_wine}[name](return_X_y=True)
    anomalous = (labels != normal_class).astype(int)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for lab in (0, 1):                                   # 60 / 40, stratified by normal / anomaly
        pos = rng.permutation(np.flatnonzero(anomalous == lab))
        k = int(round(0.6 * len(pos)))
        train.append(pos[:k])
        test.append(pos[k:])
    normal_train = train[0]
    n_l = int(round(gamma_l * len(normal_train)))
    collected = rng.choice(train[1], n_l, replace=False) if n_l else np.array([], int)
    tr = np.concatenate([normal_train, collected])
    te = np.sort(np.concatenate(test))
    y_train = np.r_[np.zeros(len(normal_train), int), np.ones(n_l, int)]
    scaler = StandardScaler().fit(X[tr])
    X_tr, X_te = scaler.transform(X[tr]), scaler.transform(X[te])
    if scaling == "minmax":
        mm = MinMaxScaler().fit(X_tr)
        X_tr, X_te = mm.transform(X_tr), mm.transform(X_te)
    elif scaling != "standard":
        raise ValueError(f"unknown scaling {scaling!r}")
    return X_tr.astype(np.float32), y_train, X_te.astype(np.float32), anomalous[te]


def task_data(task: str, seed: int):
    if ":" in task:
        name, cls, *scaling = task.split(":")
        return sklearn_split(name, int(cls), seed, scaling=scaling[0] if scaling else "standard")
    s = make_split(task, gamma_l=0.01, seed=seed)
    return s.X_train, s.y_train, s.X_test, s.y_test


class _Probe:
    """A callback ``(epoch, detector)`` that scores the test set at the checkpoint epochs with both the raw and
    the averaged networks (training itself untouched: the detector's per-epoch hook forks the random state and
    restores every network's mode, and scoring draws nothing)."""

    def __init__(self, X_test, y_test, checkpoints: set[int]):
        self.data, self.epochs, self.rows = (X_test, y_test), checkpoints, []

    def __call__(self, epoch: int, det) -> None:
        if epoch not in self.epochs:
            return
        X, y = self.data
        for weights, (e, g) in (("raw", (det.nets_.encoder, det.nets_.generator)), ("ema", (det.encoder_, det.generator_))):
            for name, s in compute_scores(e, g, det._tensor(X)).items():
                self.rows.append((f"{weights}/{name}", epoch, auroc(y, s)))


def steps_per_epoch(y_train: np.ndarray, batch_size: int = 128) -> int:
    n = int(np.sum(y_train == 0))
    return max(1, n // min(batch_size, n))


def provenance() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "aabigan"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        commit += "+dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"aabigan_version": __version__, "torch_version": torch.__version__,
            "device": f"cpu:{platform.machine()}:{torch.get_num_threads()}threads", "commit": commit}


def _base(task, seed, y, yt) -> dict:
    name, _, cls = task.partition(":")
    return {"task": task, "dataset": name, "normal_class": int(cls.split(":")[0] or 0), "seed": seed,
            "n_train_normal": int(np.sum(y == 0)), "n_collected": int(np.sum(y == 1)), "n_test": len(yt),
            "n_test_anomalies": int(np.sum(yt)), **provenance(),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def run_task(task: str, seed: int) -> list[dict]:
    X, y, Xt, yt = task_data(task, seed)
    spe = steps_per_epoch(y)
    ckpt = {math.ceil(k / spe) for k in STEP_CHECKPOINTS} | {100} | {max(100, math.ceil(k / spe)) for k in (3000, 5000)}
    last = max(ckpt)
    probe = _Probe(Xt, yt, ckpt)
    AABiGAN(epochs=last, ema_decay=0.99, random_state=seed).fit(X, y, callbacks=(probe,))
    with warnings.catch_warnings():             # the old defaults' fits are short: that is the point
        warnings.simplefilter("ignore")
        old = AABiGAN(random_state=seed, **OLD_DEFAULTS).fit(X, y)
    read = {(s, e): a for s, e, a in probe.rows}
    a_old = auroc(yt, old.decision_function(Xt))
    at_100 = read[("raw/reconstruction", 100)]
    assert abs(a_old - at_100) < 1e-12, (task, seed, a_old, at_100)
    base = _base(task, seed, y, yt)
    return [{**base, "setting": s, "epoch": e, "steps": e * spe, "auroc": round(a, 6)}
            for s, e, a in sorted(probe.rows) + [("api/old-defaults", 100, a_old)]]


def check_new_defaults(task: str, seed: int, rows: list[dict]) -> dict:
    """Fit ``AABiGAN(random_state=seed)`` with today's defaults; its AUROC must equal the checkpoint read
    for the same recipe in ``rows`` (the probe's rows of this task and seed)."""
    X, y, Xt, yt = task_data(task, seed)
    params = AABiGAN().get_params()
    new = AABiGAN(random_state=seed).fit(X, y)
    a_new = auroc(yt, new.decision_function(Xt))
    setting = f"{'ema' if params['ema_decay'] else 'raw'}/{params['score']}"
    read = {int(r["epoch"]): float(r["auroc"]) for r in rows if r["setting"] == setting}
    e_new = int(new.selected_epoch_)
    assert e_new in read and abs(a_new - read[e_new]) < 1e-6, (task, seed, e_new, a_new, read)
    return {**_base(task, seed, y, yt), "setting": "api/new-defaults", "epoch": e_new,
            "steps": e_new * steps_per_epoch(y), "auroc": round(a_new, 6)}


def baselines(task: str, seed: int) -> list[dict]:
    """No training: the AUROC of ||x||^2 (a distance from the training mean, on standardised data) and of the
    reconstruction error of the detector's networks as initialised for ``random_state=seed`` (step 0)."""
    X, y, Xt, yt = task_data(task, seed)
    torch.manual_seed(seed)                      # the detector's initialisation (AABiGAN._init_networks)
    nets = build_networks(X.shape[1:])
    s0 = compute_scores(nets.encoder, nets.generator, torch.as_tensor(Xt))["reconstruction"]
    base = _base(task, seed, y, yt)
    return [{**base, "setting": "baseline/squared-norm", "epoch": 0, "steps": 0,
             "auroc": round(auroc(yt, (Xt.astype(np.float64) ** 2).sum(1)), 6)},
            {**base, "setting": "untrained/reconstruction", "epoch": 0, "steps": 0, "auroc": round(auroc(yt, s0), 6)}]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(ROOT / "results" / "defaults-evidence.csv"))
    p.add_argument("--tasks", default=",".join(SKLEARN_TASKS + ODDS_TASKS))
    p.add_argument("--seeds", default="100,101,102")
    p.add_argument("--baselines", action="store_true",
                   help="add the untrained rows (||x||^2 and the networks at step 0) for every task and seed")
    p.add_argument("--check-new", action="store_true",
                   help="fit today's defaults through the API on the first seed of each task (rows must exist)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    old_rows = []
    if out.exists():
        with open(out) as fh:
            old_rows = list(csv.DictReader(fh))
    mode = "new" if args.check_new else "baseline" if args.baselines else "probe"
    kind = lambda setting: ("new" if setting.startswith("api/new") else "baseline"  # noqa: E731
                            if setting.startswith(("baseline/", "untrained/")) else "probe")
    done = {(r["task"], int(r["seed"]), kind(r["setting"])) for r in old_rows}
    seeds = [int(s) for s in args.seeds.split(",")]
    for task in args.tasks.split(","):
        for seed in seeds[:1] if args.check_new else seeds:
            if (task, seed, mode) in done:
                continue
            t0 = time.perf_counter()
            if args.baselines:
                rows = baselines(task, seed)
            elif args.check_new:
                rows = [check_new_defaults(task, seed, [r for r in old_rows if r["task"] == task
                                                        and int(r["seed"]) == seed])]
            else:
                rows = run_task(task, seed)
            new_file = not out.exists()
            with open(out, "a", newline="") as fh:
                w = csv.DictWriter(fh, FIELDS)
                if new_file:
                    w.writeheader()
                w.writerows(rows)
            summary = {f"{r['setting']}@{r['steps']}": r["auroc"] for r in rows
                       if r["setting"] in ("raw/reconstruction", "ema/reconstruction") or r["setting"].startswith("api")}
            print(f"{task} seed {seed}: {time.perf_counter() - t0:.0f}s {summary}", flush=True)


if __name__ == "__main__":
    main()
