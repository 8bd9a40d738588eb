"""Result tables: our mean ± std from the committed rows, the paper's value beside it.

``summarise`` groups rows of one selection rule and reports AUROC in percent, mean ± sample standard
deviation over the runs of a cell (seeds for ODDS, class pairs for images; the paper's ± is over its 90
class pairs).  ``compare`` joins a summary with the paper's table read from ``results/paper/``.
``compare_selection`` gives any of them under both selection rules side by side (:data:`SELECTIONS`).
``to_wide`` lays either out as the paper does (datasets as rows, methods as columns, each cell marked above /
within / below the paper's), and ``caption`` names the profile and rule beneath it.
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Mapping

import numpy as np

from .data import DISPLAY_NAMES
from .experiments import METHODS, read_rows
from .paper_tables import DEFAULT_C, TABLE_KEYS, holds
from .store import check_unique

__all__ = ["summarise", "paper_table", "compare", "compare_selection", "selection_rules", "SELECTIONS", "in_table",
           "to_markdown", "to_wide", "caption", "MARKERS", "paper_dir", "TABLE_KEYS", "run_time", "versus_paper"]

def paper_dir() -> Path:
    """The paper's tables: ``paper/`` of :func:`aabigan.paths.results_dir` (``$AABIGAN_RESULTS``, else this
    checkout's ``results/``, else the copy that ships with the installed package)."""
    from .paths import results_dir

    return results_dir() / "paper"


def _norm(key: str, value) -> str:
    """Cell keys as the paper's CSVs write them."""
    if key in ("gamma_l", "gamma_p"):           # two decimals as the paper prints them, unless that rounds
        v = float(value)
        return f"{v:.2f}" if abs(float(f"{v:.2f}") - v) < 1e-12 else f"{v:g}"
    if key == "c":
        return f"{float(value):g}"
    if key == "k_l":
        return str(int(float(value)))
    if key == "dataset":
        return DISPLAY_NAMES.get(str(value), str(value))
    if key == "method":
        return METHODS[value].display if value in METHODS else str(value)
    return str(value)


def in_table(name: str, row: Mapping) -> bool:
    """Whether a result row belongs to one of the cells of paper table ``name`` (:mod:`aabigan.paper_tables`,
    the spec the grids are built from).  A row can belong to several tables: their cells overlap."""
    return holds(name, row)


def _cell_value(row: dict, key: str):
    if key == "c":
        c = json.loads(row["settings"] or "{}").get("c")
        return DEFAULT_C if c is None else c
    return row[key]


def summarise(rows: list[dict], keys=("dataset", "method"), rule: str = "val/auto", profile: str | None = None,
              metric: str = "auroc") -> list[dict]:
    """Mean ± std (percent) of ``metric`` per cell, over the ok rows of one rule (and profile).

    Refuses rows that report one run twice under one rule (:func:`aabigan.store.check_unique`: the same file
    given twice, or two files holding the same runs): they would count one run as two."""
    check_unique(rows, what="the rows to summarise")
    groups: dict[tuple, list[float]] = defaultdict(list)
    profiles: dict[tuple, set] = defaultdict(set)
    settings: dict[tuple, set] = defaultdict(set)
    for r in rows:
        if r["status"] != "ok" or r["rule"] not in (rule, "fixed"):
            continue
        if profile is not None and r["profile"] != profile:
            continue
        k = tuple(_norm(key, _cell_value(r, key)) for key in keys)
        groups[k].append(100 * float(r[metric]))
        profiles[k].add(r["profile"])
        settings[k].add(r.get("settings", ""))
    mixed = {k: v for k, v in settings.items() if len(v) > 1}
    if mixed:
        k, v = next(iter(mixed.items()))
        raise ValueError(f"cell {dict(zip(keys, k))} mixes runs with different settings ({' vs '.join(sorted(v))}); "
                         "select one profile or keep such runs in separate result files")
    out = []
    for k, vals in sorted(groups.items()):
        v = np.asarray(vals)
        out.append({**dict(zip(keys, k)), "mean": round(float(v.mean()), 1),
                    "std": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 1), "n": len(v),
                    "profile": ",".join(sorted(profiles[k]))})
    return out


def paper_table(name: str, directory=None) -> list[dict]:
    path = Path(directory or paper_dir()) / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"the paper's {name} was looked for at {path} and is not there")
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _paper_cells(name: str, directory=None) -> dict[tuple, dict]:
    """The paper's rows of table ``name`` by cell, keyed as :func:`summarise` keys ours."""
    return {tuple(p[key] if key in ("dataset", "method") else _norm(key, p[key]) for key in TABLE_KEYS[name]): p
            for p in paper_table(name, directory)}


def compare(name: str, rows: list[dict], rule: str = "val/auto", profile: str | None = None,
            directory=None) -> list[dict]:
    """Our summary of the rows of paper table ``name`` (:func:`in_table`; other rows are left out), with the
    paper's mean ± std beside each cell."""
    if name not in TABLE_KEYS:
        raise ValueError(f"unknown table {name!r}; choose one of {', '.join(TABLE_KEYS)}")
    keys = TABLE_KEYS[name]
    rows = [r for r in rows if in_table(name, r)]
    paper = _paper_cells(name, directory)
    ours = summarise(rows, keys, rule, profile)
    for o in ours:
        p = paper.get(tuple(o[key] for key in keys))
        o["ours"] = f"{o['mean']:.1f} ± {o['std']:.1f}"
        o["paper"] = f"{p['mean']} ± {p['std']}" if p and p.get("mean") else "—"
    return ours


#: the two ways of choosing what a run reports, and the row rule each kind of method is read under
#: (:mod:`aabigan.experiments`): ``label_free`` -- AA-BiGAN's ``last/reconstruction``, a baseline that trains
#: by epochs ``last`` (or its ``fixed`` row, written before the epoch rules existed: the same networks after
#: the last epoch, the same number), a method without epochs ``fixed``; ``validation`` -- AA-BiGAN's
#: ``val/auto``, a baseline's ``val/epoch``, a method without epochs ``fixed`` (it has nothing to choose).
SELECTIONS = {
    "label_free": {"per_epoch": ("last/reconstruction",), "by_epoch": ("last", "fixed"), "fixed": ("fixed",)},
    "validation": {"per_epoch": ("val/auto",), "by_epoch": ("val/epoch",), "fixed": ("fixed",)},
}


def selection_rules(method: str, selection: str) -> tuple[str, ...]:
    """The row rules that report ``method`` under ``selection`` (:data:`SELECTIONS`)."""
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; choose one of {', '.join(SELECTIONS)}")
    m = METHODS.get(method)
    kind = "fixed" if m is None else "per_epoch" if m.per_epoch else "by_epoch" if m.by_epoch else "fixed"
    return SELECTIONS[selection][kind]


def compare_selection(name: str, rows: list[dict], profile: str | None = None, directory=None) -> list[dict]:
    """Paper table ``name`` under both selection rules side by side: per cell (:data:`TABLE_KEYS`, e.g. dataset
    and method for Tables 2 and 8, dataset, gamma_l and method for Table 1) our mean ± std (percent) and the
    number of runs under ``label_free`` and under ``validation`` (:data:`SELECTIONS`; "—" and 0 where a cell
    has no such rows; the means as numbers too, ``label_free_mean`` and ``validation_mean``, None there), ``ours`` as "label-free / validation" (for :func:`to_wide`), ``n`` the runs behind them
    (one number where the two agree, else "label-free / validation"), and the paper's value.

    Every method must come from one profile: rows of several profiles are an error unless ``profile`` picks
    one.  A run reported twice under one selection (its ``last`` and its ``fixed`` row) is an error too."""
    if name not in TABLE_KEYS:
        raise ValueError(f"unknown table {name!r}; choose one of {', '.join(TABLE_KEYS)}")
    keys = TABLE_KEYS[name]
    check_unique(rows, what="the rows to compare")      # one file given twice would count every run twice
    rows = [r for r in rows if r.get("status") == "ok" and in_table(name, r)
            and (profile is None or r["profile"] == profile)]
    picked = {sel: [dict(r, rule=sel) for r in rows if r["rule"] in selection_rules(r["method"], sel)]
              for sel in SELECTIONS}
    profiles = sorted({r["profile"] for sel_rows in picked.values() for r in sel_rows})
    if len(profiles) > 1:
        raise ValueError(f"the rows come from profiles {', '.join(profiles)}: a table compares every method on one "
                         "profile; pass profile=")
    cells: dict[tuple, dict] = {}
    for sel, sel_rows in picked.items():
        for c in summarise(sel_rows, keys, rule=sel):
            k = tuple(c[key] for key in keys)
            cells.setdefault(k, {**dict(zip(keys, k)), "profile": c["profile"]})
            cells[k][sel] = f"{c['mean']:.1f} ± {c['std']:.1f}"
            cells[k][f"{sel}_n"] = c["n"]
            cells[k][f"{sel}_mean"] = c["mean"]
    paper = _paper_cells(name, directory)
    out = []
    for k, c in sorted(cells.items()):
        for sel in SELECTIONS:
            c.setdefault(sel, "—")
            c.setdefault(f"{sel}_n", 0)
            c.setdefault(f"{sel}_mean", None)
        p = paper.get(k)
        c["ours"] = f"{c['label_free']} / {c['validation']}"
        lf, val = c["label_free_n"], c["validation_n"]
        c["n"] = str(lf) if lf == val else f"{lf} / {val}"      # one number once both rules hold every run
        c["paper"] = f"{p['mean']} ± {p['std']}" if p and p.get("mean") else "—"
        out.append(c)
    return out


#: how :func:`to_wide` marks our mean against the paper's cell (:func:`versus_paper`): above the paper's
#: mean, within its ± std (from mean − std up to the mean), below mean − std
MARKERS = {"above": "▲", "within ± std": "≈", "below": "▼"}


def _mean_std(text: str):
    """(mean, std) of a cell written "m ± s" by :func:`compare` or :func:`compare_selection`; None for "—"."""
    parts = str(text).split("±")
    try:
        return float(parts[0]), float(parts[1]) if len(parts) > 1 and parts[1].strip() else 0.0
    except ValueError:
        return None


def _marked(ours: str, paper: str) -> str:
    """Each of our "m ± s" values (one, or "label-free / validation") followed by its :data:`MARKERS` sign."""
    p = _mean_std(paper)
    out = []
    for part in str(ours).split(" / "):
        o = _mean_std(part)
        out.append(part if o is None or p is None
                   else f"{part} {MARKERS[versus_paper(o[0], {'mean': p[0], 'std': p[1]})]}")
    return " / ".join(out)


def to_wide(table: list[dict], name: str, marks: bool = False) -> tuple[list[dict], list[str]]:
    """The paper's layout: one row per dataset (and ratio), one column per method, "ours (paper)" in a cell.

    ``table`` is the output of :func:`compare` for paper table ``name``, or of :func:`compare_selection`,
    whose "ours" is "label-free / validation".  A cell the paper does not print shows
    "(—)".  With ``marks`` each of our values is followed by its place against the paper's cell
    (:func:`versus_paper`, :data:`MARKERS`): ▲ above the paper's mean, ≈ within its ± std (from mean − std
    up to the mean), ▼ below mean − std; no mark where the paper has no value or we have none ("—").
    :func:`caption` writes the matching caption.  Returns rows and their columns.
    """
    if name not in TABLE_KEYS:
        raise ValueError(f"unknown table {name!r}; choose one of {', '.join(TABLE_KEYS)}")
    keys = TABLE_KEYS[name]
    row_keys = [k for k in keys if k != "method"]

    def cell(r):
        return f"{_marked(r['ours'], r['paper']) if marks else r['ours']} ({r['paper']})"

    if "method" not in keys:                      # Table 5 has no method axis: one column of AA-BiGAN
        return [{**{k: r[k] for k in row_keys}, "AA-BiGAN": cell(r)} for r in table], [*row_keys, "AA-BiGAN"]
    methods = list(dict.fromkeys(r["method"] for r in table))
    rows: dict[tuple, dict] = {}
    for r in table:
        k = tuple(r[c] for c in row_keys)
        rows.setdefault(k, dict(zip(row_keys, k)))[r["method"]] = cell(r)
    return list(rows.values()), [*row_keys, *methods]


def caption(name: str, profile: str, rule: str, marks: bool = True) -> str:
    """The caption of a :func:`to_wide` table: which paper table, the profile and selection rule of our
    numbers, what a cell holds, and (``marks``) what its markers mean.

    ``rule`` is a row rule (e.g. ``"val/auto"``) or ``"label-free / validation"`` for
    :func:`compare_selection`'s two columns in one cell."""
    if name not in TABLE_KEYS:
        raise ValueError(f"unknown table {name!r}; choose one of {', '.join(TABLE_KEYS)}")
    label = f"Table {name.removeprefix('table')}"
    text = (f"{label}: test AUROC (%), ours as mean ± std over our runs, profile {profile}, rule {rule}; "
            "the paper's mean ± std in brackets (— where it prints none).")
    if marks:
        text += (f" {MARKERS['above']} above the paper's mean, {MARKERS['within ± std']} within its ± std "
                 f"(down to mean − std), {MARKERS['below']} below mean − std.")
    return text


def to_markdown(table: list[dict], columns=None) -> str:
    if not table:
        return "(no rows)"
    columns = columns or list(table[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in table]
    return "\n".join(lines)


def load_and_compare(name: str, results, rule="val/auto", profile=None) -> list[dict]:
    rows = [r for path in ([results] if isinstance(results, (str, Path)) else results) for r in read_rows(path)]
    return compare(name, rows, rule, profile)


def versus_paper(mean: float, paper: Mapping) -> str:
    """Our mean (percent) against the paper's cell ``{"mean", "std"}``, both as printed to one decimal:
    "above" its mean, "within ± std" (at least mean − std), or "below"."""
    ours, p_mean = round(float(mean), 1), float(paper["mean"])
    low = round(p_mean - float(paper["std"]), 1)      # 98.9 - 0.1 is 98.80000000000001 in floats
    return "above" if ours > p_mean else ("within ± std" if ours >= low else "below")


def run_time(rows: list[dict]) -> dict:
    """Compute spent by ok runs: summed fit seconds, the number of runs, and the devices they ran on."""
    runs = {r["config_hash"]: r for r in rows if r.get("status") == "ok"}
    return {"runs": len(runs), "fit_hours": sum(float(r["fit_seconds"]) for r in runs.values()) / 3600,
            "devices": sorted({r["device"] for r in runs.values()})}
