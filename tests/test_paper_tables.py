"""aabigan.paper_tables: one spec of each table's cells, read by the grids, the summaries and the figures."""
import json

import pytest

from aabigan.experiments import grid
from aabigan.figures import FIXED
from aabigan.paper_tables import TABLE_CELLS, fixed_along, holds


def _row(gamma_l, gamma_p=0.0, k_l=1, **settings):
    return {"gamma_l": str(gamma_l), "gamma_p": str(gamma_p), "k_l": str(k_l if gamma_l else 0),
            "settings": json.dumps(settings)}


@pytest.mark.parametrize("name", ["table1", "table5", "table6", "table7"])
def test_every_config_of_a_grid_is_in_its_table_and_only_there_when_its_cell_is(name):
    for cfg in grid(name, "smoke"):
        row = _row(cfg.gamma_l, cfg.gamma_p, len(cfg.known_classes), **dict(cfg.overrides))
        assert holds(name, row)
        assert holds("table5", row) == (name == "table5")      # only Table 5 sets c


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
