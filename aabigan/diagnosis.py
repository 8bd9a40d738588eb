"""Why AA-BiGAN trails on ODDS: how far it is from our best baseline, and the effects of chapter 8's
ablations, from their committed rows.

    from aabigan.diagnosis import ablation_effects, versus_best_baseline
    versus_best_baseline(rows, "cpu")          # per dataset and selection: AA-BiGAN against the best baseline
    effects = ablation_effects(read_rows("results/odds-ablations-cpu.csv"))

Each variant of :data:`aabigan.experiments.ODDS_ABLATIONS` is compared with the ``plain`` control trained beside
it (same machine, same seeds), *paired by seed*: the effect is the mean of the per-seed differences, with its
standard error (their standard deviation over the square root of their number).  An effect is called

* ``lifts`` when it is more than two standard errors above zero,
* ``lowers`` when more than two below,
* ``no clear effect`` otherwise.

AA-BiGAN is read under two rules, as everywhere in the book: label-free (``last/reconstruction``; for the
``features-score`` variant its own ``last/features``) and the paper's ``val/auto``.  The baselines trained under
the data variants are read at their last epoch (``last``, or ``fixed`` for a method without epochs).
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from .experiments import DATA_VARIANTS, METHODS, ODDS_ABLATIONS, RunConfig, ablation_variant
from .tables import SELECTIONS, _cell_value, in_table, selection_rules, summarise

__all__ = ["ablation_effects", "effect_word", "paired_difference", "runs_by_cell", "versus_best_baseline",
           "versus_each_baseline", "versus_without_collected", "EFFECT_WORDS"]

EFFECT_WORDS = ("lifts", "lowers", "no clear effect")
_BASELINE_RULES = ("last", "fixed")


def paired_difference(a: dict, b: dict) -> tuple[float, float, int]:
    """Mean and standard error of ``b[k] - a[k]`` over the keys both hold, and their number (the standard
    error is NaN below two pairs)."""
    keys = sorted(set(a) & set(b))
    d = np.array([b[k] - a[k] for k in keys], dtype=float)
    if len(d) < 2:
        return (float(d.mean()) if len(d) else float("nan")), float("nan"), len(d)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))), len(d)


def effect_word(delta: float, se: float) -> str:
    """``lifts`` / ``lowers`` / ``no clear effect`` for a paired effect (see the module docstring)."""
    if not (math.isfinite(delta) and math.isfinite(se)):
        return "no clear effect"
    return "lifts" if delta > 2 * se else "lowers" if delta < -2 * se else "no clear effect"


def _label_free(variant: str, method: str) -> tuple[str, ...]:
    if method != "aabigan":
        return _BASELINE_RULES
    return ("last/features",) if variant == "features-score" else ("last/reconstruction",)


def _by_seed(rows) -> dict[tuple, dict[int, float]]:
    """{(variant, dataset, method, rule): {seed: AUROC %}} of the ok rows of known variants."""
    out: dict[tuple, dict[int, float]] = defaultdict(dict)
    for r in rows:
        if r["status"] != "ok":
            continue
        variant = ablation_variant(RunConfig.from_row(r))
        if variant is None:
            raise ValueError(f"a row of config {r['config_hash']} ({r['dataset']}, {r['method']}) is no variant of "
                             "ODDS_ABLATIONS: keep other runs out of the ablation file")
        key = (variant, r["dataset"], r["method"], r["rule"])
        if int(r["seed"]) in out[key]:
            raise ValueError(f"seed {r['seed']} of {key} appears twice")
        out[key][int(r["seed"])] = 100 * float(r["auroc"])
    return out


def _one(runs, variant, dataset, method, rules, plain_rules=None) -> dict | None:
    """The effect of ``variant`` on one method and dataset under one reading (None if a side has no rows)."""
    var = next((runs[(variant, dataset, method, r)] for r in rules if (variant, dataset, method, r) in runs), None)
    base = next((runs[("plain", dataset, method, r)] for r in (plain_rules or rules)
                 if ("plain", dataset, method, r) in runs), None)
    if not var or not base:
        return None
    delta, se, n = paired_difference(base, var)
    return {"plain": float(np.mean([base[k] for k in var if k in base])),
            "variant": float(np.mean([var[k] for k in base if k in var])),
            "delta": delta, "se": se, "n": n, "effect": effect_word(delta, se)}


def ablation_effects(rows) -> list[dict]:
    """One entry per (variant, dataset, method) that has rows beside its ``plain`` control: the variant's
    hypothesis and, per reading (``label_free``, and ``val/auto`` for AA-BiGAN), its paired effect
    ``{"plain", "variant", "delta", "se", "n", "effect"}`` (AUROC %, see the module docstring)."""
    runs = _by_seed(rows)
    keys = sorted({k[:3] for k in runs if k[0] != "plain"},
                  key=lambda k: (list(ODDS_ABLATIONS).index(k[0]), k[1], k[2] != "aabigan", k[2]))
    out = []
    for variant, dataset, method in keys:
        if method != "aabigan" and variant not in DATA_VARIANTS:
            continue
        lf = _one(runs, variant, dataset, method, _label_free(variant, method), _label_free("plain", method))
        if lf is None:
            continue
        entry = {"variant": variant, "hypothesis": ODDS_ABLATIONS[variant][0], "dataset": dataset,
                 "method": method, "label_free": lf}
        if method == "aabigan":
            entry["val/auto"] = _one(runs, variant, dataset, method, ("val/auto",))
        out.append(entry)
    return out


def versus_best_baseline(rows, profile: str, table: str = "table8") -> list[dict]:
    """Per dataset of paper table ``table`` (2 or 8) and per selection of :data:`aabigan.tables.SELECTIONS`:
    AA-BiGAN's mean AUROC (%) against the best baseline's under the same selection, on one profile.

    Entries ``{"dataset", "selection", "aabigan", "best", "best_mean", "margin", "n"}``: ``best`` is the display
    name of the baseline with the highest mean (AA-BiGAN without collected anomalies is not a baseline),
    ``margin`` AA-BiGAN's mean minus its, ``n`` AA-BiGAN's runs.  Datasets without both sides are left out."""
    rows = [r for r in rows if r.get("status") == "ok" and r["profile"] == profile and in_table(table, r)]
    out = []
    for selection in SELECTIONS:
        picked = [dict(r, rule=selection) for r in rows if r["rule"] in selection_rules(r["method"], selection)]
        cells = summarise(picked, ("dataset", "method"), rule=selection)
        for ds in sorted({c["dataset"] for c in cells}):
            here = {c["method"]: c for c in cells if c["dataset"] == ds}
            aa = here.pop(METHODS["aabigan"].display, None)
            here.pop(METHODS["aabigan-unsup"].display, None)
            if aa is None or not here:
                continue
            best = max(here, key=lambda m: here[m]["mean"])
            out.append({"dataset": ds, "selection": selection, "aabigan": aa["mean"], "best": best,
                        "best_mean": here[best]["mean"], "margin": round(aa["mean"] - here[best]["mean"], 1),
                        "n": aa["n"]})
    return out


def versus_each_baseline(rows, profile: str, table: str = "table1", keys=("dataset", "gamma_l")) -> list[dict]:
    """AA-BiGAN against every baseline in each cell of paper table ``table`` (cells told apart by ``keys``),
    under each selection of :data:`aabigan.tables.SELECTIONS`, *paired* over the runs both hold (the class
    pair and seed: ``(normal_class, known_classes, seed)``), on one profile.

    Entries ``{**cell, "selection", "baseline", "aabigan", "baseline_mean", "delta", "se", "n", "verdict"}``:
    the two means (%) over the shared runs, ``delta`` AA-BiGAN minus the baseline with its standard error,
    ``verdict`` "ahead" / "behind" where AA-BiGAN is so by more than two standard errors, else "no clear
    difference".  A baseline row written before its method reported per epoch (``fixed``) counts as
    label-free only: under the validation rule it has no epoch chosen, so it is not compared there.
    Cells with no baseline are left out; AA-BiGAN without collected anomalies is not a baseline."""
    runs = _runs_by_cell(rows, profile, table, keys, _run)
    out = []
    for (cell, selection, method), theirs in sorted(runs.items()):
        if method not in ("aabigan", "aabigan-unsup"):
            out += _versus(runs.get((cell, selection, "aabigan")), theirs, METHODS[method].display,
                           {**dict(zip(keys, cell)), "selection": selection})
    return out


def versus_without_collected(rows, profile: str, table: str = "table1") -> list[dict]:
    """AA-BiGAN in each cell with collected anomalies (gamma_l > 0) against *AA-BiGAN without them*: its run at
    gamma_l = 0 of the same dataset, normal class and seed, which trains on exactly the same normal images
    (the runner's ``aabigan-unsup`` leaves the collected images out, so it is that run, not trained again).
    Paired over (normal class, seed), under each selection; entries as :func:`versus_each_baseline`'s, the
    baseline named "AA-BiGAN without collected anomalies"."""
    keys = ("dataset", "gamma_l")
    runs = _runs_by_cell(rows, profile, table, keys, _by_class)
    out = []
    for ((dataset, g), selection, method), ours in sorted(runs.items()):
        if method == "aabigan" and g > 0:
            out += _versus(ours, runs.get(((dataset, 0.0), selection, "aabigan")),
                           METHODS["aabigan-unsup"].display,
                           {"dataset": dataset, "gamma_l": g, "selection": selection})
    return out


def runs_by_cell(rows, profile: str, table: str, keys=("dataset", "gamma_l"), method: str = "aabigan",
                 selection: str = "validation") -> dict[tuple, dict[tuple, float]]:
    """One method's runs in each cell of paper table ``table``, told apart by ``keys`` (``c`` read from the
    settings): ``{cell: {(normal_class, seed): AUROC %}}`` over the ok rows of ``profile``, under ``selection``
    (:data:`aabigan.tables.SELECTIONS`: AA-BiGAN's ``val/auto`` under ``validation``, the paper's rule).  The
    dataset of a cell is its file name ("mnist"), every other key a float.

    Runs are keyed by normal class and seed, so that two cells' dicts pair with :func:`paired_difference`
    across a step in gamma_l (the gamma_l = 0 run has no collected class), k_l, gamma_p or c.  A cell with two
    runs of one normal class and seed (the paper's protocol: every collected class of a normal one) is an
    error, not a silently dropped run."""
    selection_rules(method, selection)                   # an unknown selection is an error, not an empty dict
    runs = _runs_by_cell(rows, profile, table, keys, _by_class)
    return {cell: v for (cell, sel, m), v in sorted(runs.items()) if sel == selection and m == method}


def _run(r) -> tuple:
    return int(r["normal_class"]), str(r["known_classes"]), int(r["seed"])


def _by_class(r) -> tuple:
    return int(r["normal_class"]), int(r["seed"])


def _runs_by_cell(rows, profile, table, keys, run_of) -> dict[tuple, dict]:
    """(cell, selection, method) -> {run_of(row): AUROC %} over the ok rows of ``profile`` in ``table``; two rows
    of one run under one selection are an error (a file given twice, or ``run_of`` too coarse for the grid)."""
    runs: dict[tuple, dict] = defaultdict(dict)
    for r in rows:
        if r.get("status") != "ok" or r["profile"] != profile or not in_table(table, r):
            continue
        cell = tuple(r["dataset"] if k == "dataset" else float(_cell_value(r, k)) for k in keys)
        for selection in SELECTIONS:
            if r["rule"] in selection_rules(r["method"], selection):
                here = runs[(cell, selection, r["method"])]
                if run_of(r) in here:
                    raise ValueError(f"two {r['method']} rows of run {run_of(r)} in cell {cell} of {table} under "
                                     f"{selection}: a file given twice, or several collected classes per normal "
                                     f"class (pair them by known_classes too)")
                here[run_of(r)] = 100 * float(r["auroc"])
    return runs


def _versus(ours, theirs, name: str, where: dict) -> list[dict]:
    """One comparison entry of AA-BiGAN's runs ``ours`` against ``theirs``, paired; none if they share no run."""
    if not ours or not theirs:
        return []
    delta, se, n = paired_difference(theirs, ours)
    if not n:
        return []
    shared = sorted(set(ours) & set(theirs))
    return [{**where, "baseline": name, "aabigan": float(np.mean([ours[k] for k in shared])),
             "baseline_mean": float(np.mean([theirs[k] for k in shared])),
             "delta": delta, "se": se, "n": n, "verdict": _AHEAD[effect_word(delta, se)]}]


_AHEAD = {"lifts": "ahead", "lowers": "behind", "no clear effect": "no clear difference"}
