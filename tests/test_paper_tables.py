"""aabigan.paper_tables: one spec of each table's cells, read by the grids, the summaries and the figures."""
import json

import pytest

from aabigan.experiments import grid
from aabigan.figures import FIXED
from aabigan.paper_tables import DEFAULT_C, TABLE_CELLS, fixed_along, holds
from aabigan.trainer import TrainConfig


def _row(gamma_l, gamma_p=0.0, k_l=1, dataset="fmnist", method="aabigan", **settings):
    return {"dataset": dataset, "method": method, "gamma_l": str(gamma_l), "gamma_p": str(gamma_p), "k_l": str(k_l if gamma_l else 0),
            "settings": json.dumps(settings)}


@pytest.mark.parametrize("name", ["table1", "table5", "table6", "table7"])
def test_every_config_of_a_grid_is_in_its_table_and_only_there_when_its_cell_is(name):
    for cfg in grid(name, "smoke"):
        row = _row(cfg.gamma_l, cfg.gamma_p, len(cfg.known_classes), **dict(cfg.overrides))   # as if F-MNIST
        assert holds(name, row)
        # only Table 5 sets c; its c = 0.75 cells are the runs of the other tables at gamma_l = .05, gamma_p 0 / .1
        assert holds("table5", row) == (name == "table5" or (cfg.gamma_l, cfg.gamma_p, row["k_l"]) in
                                        ((0.05, 0.0, "1"), (0.05, 0.1, "1")))


def test_table5_at_the_default_c_trains_nothing_the_other_tables_do_not():
    assert TrainConfig().target_c == DEFAULT_C == 0.75              # what a run that sets no c trains with
    five = set(grid("table5", "smoke", methods=["aabigan"]))
    shared = five & (set(grid("table1", "smoke")) | set(grid("table6", "smoke")))
    assert len(shared) == len(five) // 4 and all(not dict(c.overrides) for c in shared)   # 2 of the 8 cells
    assert holds("table5", _row(0.05, 0.1, c=0.75)) and holds("table5", _row(0.05, 0.1))   # old rows set it
    assert not holds("table1", _row(0.05, c=0.75)) and not holds("table5", _row(0.05, 0.2))
    assert holds("table1", _row(0.05, dataset="mnist")) and not holds("table5", _row(0.05, dataset="mnist"))
    assert {c.dataset for c in grid("table5", "smoke")} == {"fmnist"}
    assert not holds("table5", _row(0.05, method="deepsad")) and holds("table6", _row(0.05, method="deepsad"))
    with pytest.raises(ValueError, match="with dataset fmnist only"):
        grid("table5", "smoke", datasets=["mnist"])
    with pytest.raises(ValueError, match="with method aabigan only"):
        grid("table5", "smoke", methods=["aabigan", "deepsad"])


def test_cells_overlap_where_the_paper_says_and_nowhere_else():
    assert holds("table1", _row(0.05)) and holds("table6", _row(0.05))        # Table 6's gamma_p = 0 cell
    assert holds("table6", _row(0.05, 0.1)) and holds("table7", _row(0.05, 0.1))
    assert not holds("table1", _row(0.005)) and not holds("table6", _row(0.05, 0.1, 2))
    assert holds("table7", _row(0.05, 0.1, 2)) and holds("table7", _row(0.0, 0.1, 0))
    assert holds("table5", _row(0.05, 0.1, c=0.4)) and not holds("table5", _row(0.05, 0.1, c=0.5))
    with pytest.raises(ValueError, match="unknown table"):
        holds("table3", _row(0.05))


def test_the_figures_fix_what_the_cells_share():
    assert fixed_along("table6") == {"gamma_l": 0.05, "k_l": 1} == FIXED["gamma_p"]
    assert fixed_along("table7") == {"gamma_p": 0.1} == FIXED["k_l"]
    assert len(TABLE_CELLS["table5"]) == 8
