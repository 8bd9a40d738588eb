"""Which runs make up each of the paper's tables: one spec, read by the grids that run them
(:func:`aabigan.experiments.grid`), the summaries that read them back (:func:`aabigan.tables.in_table`) and the
figures drawn from them (:data:`aabigan.figures.FIXED`).

A table is a set of :class:`Cell` s -- the collected ratio gamma_l, the pollution ratio gamma_p, the number of
collected classes k_l and, for Table 5 only, the target c of the anomalies -- run for every dataset, method and
class pair (or seed) of its grid.  One results file may hold several tables whose cells overlap (Table 6's
gamma_p = 0 cell is Table 1's gamma_l = 0.05 cell, Table 7's k_l = 1 cell is Table 6's gamma_p = 0.1 cell, and
Table 5's c = 0.75 cells -- c at its default, :data:`DEFAULT_C` -- are those two): a row belongs to every table
that has its cell, and a config shared by several tables is trained once.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Mapping

__all__ = ["Cell", "DEFAULT_C", "TABLE_CELLS", "TABLE_SCOPE", "TABLE_KEYS", "holds", "fixed_along"]

#: AA-BiGAN's target c of eq. 16 when a run does not set it: the paper's 0.75 (``TrainConfig.target_c`` of the
#: "aa" objective).  A Table 5 cell at this c sets nothing, so it is the run Tables 1, 6 and 7 train anyway.
DEFAULT_C = 0.75


@dataclass(frozen=True)
class Cell:
    """One setting of a table.  ``k_l`` is the number of collected classes when gamma_l > 0 (a row records
    k_l = 0 when nothing is collected); ``c`` a target set explicitly (None: the default, not overridden)."""

    gamma_l: float
    gamma_p: float = 0.0
    k_l: int = 1
    c: float | None = None

    @property
    def row_k_l(self) -> int:
        return self.k_l if self.gamma_l > 0 else 0

    def overrides(self) -> tuple[tuple[str, float], ...]:
        """The method settings this cell sets (the grid's config overrides)."""
        return () if self.c is None or math.isclose(self.c, DEFAULT_C) else (("c", self.c),)


#: the cells of each paper table (Tables 2 and 8 share theirs; Table 8 has more methods)
TABLE_CELLS: Mapping[str, tuple[Cell, ...]] = {
    "table1": tuple(Cell(g) for g in (0.0, 0.01, 0.05, 0.1, 0.2)),
    "table2": (Cell(0.01),),
    "table8": (Cell(0.01),),
    "table5": tuple(Cell(0.05, p, 1, c) for c in (0.25, 0.4, 0.6, 0.75) for p in (0.0, 0.1)),
    "table6": tuple(Cell(0.05, p) for p in (0.0, 0.01, 0.05, 0.1, 0.2)),
    "table7": tuple(Cell(0.05 if k else 0.0, 0.1, k) for k in (0, 1, 2, 3, 5)),
}

#: the tables the paper runs on some datasets or methods only, column -> the values it takes: Table 5 is AA-BiGAN
#: on F-MNIST (its c = 0.75 cells would otherwise take every image dataset's and every method's runs at
#: gamma_l = .05, which set no c either)
TABLE_SCOPE: Mapping[str, Mapping[str, tuple[str, ...]]] = {"table5": {"dataset": ("fmnist",), "method": ("aabigan",)}}

#: the columns that identify a cell of each paper table
TABLE_KEYS: Mapping[str, tuple[str, ...]] = {
    "table1": ("dataset", "gamma_l", "method"),
    "table2": ("dataset", "method"),
    "table8": ("dataset", "method"),
    "table5": ("c", "gamma_l", "gamma_p"),
    "table6": ("dataset", "gamma_p", "method"),
    "table7": ("dataset", "k_l", "method"),
}


def _cell_of(row: Mapping) -> tuple[float, float, int, float | None]:
    c = json.loads(row.get("settings") or "{}").get("c")
    return float(row["gamma_l"]), float(row["gamma_p"]), int(float(row.get("k_l") or 0)), c


def _same_c(row_c, cell_c) -> bool:
    """A row's c (None: not set) in a cell's: a cell without c takes the rows that set none; a cell with one
    takes the rows at that c, and -- at :data:`DEFAULT_C` -- those that set none."""
    if cell_c is None:
        return row_c is None
    return math.isclose(float(DEFAULT_C if row_c is None else row_c), cell_c)


def holds(name: str, row: Mapping) -> bool:
    """Whether a result row (or any mapping with ``gamma_l``, ``gamma_p``, ``k_l`` and ``settings``) belongs to
    one of paper table ``name``'s cells (and, for a table of :data:`TABLE_SCOPE`, has a dataset and method of it)."""
    if name not in TABLE_CELLS:
        raise ValueError(f"unknown table {name!r}; choose one of {', '.join(TABLE_CELLS)}")
    if any(row.get(col) not in allowed for col, allowed in TABLE_SCOPE.get(name, {}).items()):
        return False
    g, p, k, c = _cell_of(row)
    return any(math.isclose(g, cell.gamma_l, abs_tol=1e-12) and math.isclose(p, cell.gamma_p, abs_tol=1e-12)
               and k == cell.row_k_l and _same_c(c, cell.c) for cell in TABLE_CELLS[name])


def fixed_along(name: str) -> dict[str, float]:
    """The cell columns (gamma_l, gamma_p, k_l) that every cell of table ``name`` shares: what a figure drawn
    along the table's varying axis holds fixed (Table 6: gamma_l = 0.05, k_l = 1; Table 7: gamma_p = 0.1)."""
    cells = TABLE_CELLS[name]
    out = {}
    for col in ("gamma_l", "gamma_p", "k_l"):
        values = {getattr(c, col) for c in cells}
        if len(values) == 1:
            out[col] = values.pop()
    return out
