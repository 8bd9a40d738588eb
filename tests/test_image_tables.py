"""Smoke runs of the image-table commands: ``python -m aabigan run --grid ...`` then ``... table ...``.

One class pair and one dataset per table under the smoke profile (1 epoch, width 8, 128 training normals,
250 evaluation images): the numbers mean nothing, the test checks that every cell runs, that its rows are
ok, and that the table sets the paper's value beside ours.
"""
from __future__ import annotations

import pytest

from aabigan.__main__ import main
from aabigan.experiments import read_rows
from aabigan.tables import paper_table

# table -> (dataset, the column that varies, its values as the paper's CSV writes them, number of cells)
CASES = {
    "table1": ("mnist", "gamma_l", ["0.00", "0.01", "0.05", "0.10", "0.20"]),
    "table6": ("mnist", "gamma_p", ["0.00", "0.01", "0.05", "0.10", "0.20"]),
    "table7": ("mnist", "k_l", ["0", "1", "2", "3", "5"]),
    "table5": ("fmnist", "c", ["0.25", "0.4", "0.6", "0.75"]),
}
DISPLAY = {"mnist": "MNIST", "fmnist": "F-MNIST"}


def _table_lines(text: str) -> list[list[str]]:
    """The body rows of the Markdown table printed by ``main(["table", ...])``."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


@pytest.mark.parametrize("table", list(CASES))
def test_grid_runs_and_table_sets_the_paper_beside_ours(table, tmp_path, capsys):
    dataset, column, values = CASES[table]
    out = tmp_path / f"{table}.csv"
    argv = ["run", "--grid", table, "--profile", "smoke", "--dataset", dataset, "--pairs", "0:1", "--out", str(out)]
    assert main(argv) == 0
    rows = read_rows(out)
    n_cells = 8 if table == "table5" else 5                            # table5: 4 values of c x 2 of gamma_p
    assert len({r["config_hash"] for r in rows}) == n_cells
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 3 * n_cells   # three selection rules each
    assert {r["dataset"] for r in rows} == {dataset} and {r["normal_class"] for r in rows} == {"0"}
    assert {r["profile"] for r in rows} == {"smoke"}
    assert main(argv) == 0                                             # resumes: nothing left to run
    assert len(read_rows(out)) == 3 * n_cells
    capsys.readouterr()

    assert main(["table", table, str(out), "--long"]) == 0           # every method under both rules
    printed = capsys.readouterr().out
    head = [c.strip() for c in next(ln for ln in printed.splitlines() if ln.startswith("|")).strip("|").split("|")]
    body = [dict(zip(head, b)) for b in _table_lines(printed)]
    assert len(body) == n_cells
    paper = paper_table(table)
    if table == "table5":
        want = {(p["c"], p["gamma_l"], p["gamma_p"]): f"{p['mean']} ± {p['std']}" for p in paper}
        got = {(b["c"], b["gamma_l"], b["gamma_p"]): b["paper"] for b in body}
        assert {k[0] for k in got} == set(values)
    else:
        want = {p[column]: f"{p['mean']} ± {p['std']}" for p in paper
                if p["dataset"] == DISPLAY[dataset] and p["method"] == "AA-BiGAN"}
        assert all(b["dataset"] == DISPLAY[dataset] and b["method"] == "AA-BiGAN" for b in body)
        got = {b[column]: b["paper"] for b in body}
        assert sorted(got) == values
    assert got == {k: want[k] for k in got}                            # the paper's value beside each cell
    assert all(b["paper"] != "—" for b in body)
    for b in body:                                                     # ours: mean ± std of one run, each rule
        for rule in ("label_free", "validation"):
            mean, std = (float(v) for v in b[rule].split(" ± "))
            assert 0 <= mean <= 100 and std == 0.0 and b[f"{rule}_n"] == "1"
    assert main(["table", table, str(out), "--long", "--rule", "val/auto"]) == 0    # one rule, as asked
    one = _table_lines(capsys.readouterr().out)
    assert [b[-3] for b in one] == ["1"] * n_cells and all(b[-4] in {x["validation"] for x in body} for b in one)


def test_each_table_reads_exactly_its_own_grid_from_one_file():
    """One results file holds the rows of Tables 1, 5, 6 and 7 (some cells shared): each table keeps its grid's."""
    import json

    from aabigan.experiments import grid
    from aabigan.tables import compare, in_table

    grids = {t: grid(t, "smoke", ["fmnist"], pairs=[(0, 1), (2, 3)]) for t in CASES}
    rows = {}
    for cfgs in grids.values():
        for c in cfgs:
            rows[c.hash] = {"config_hash": c.hash, "status": "ok", "rule": "val/auto", "dataset": c.dataset,
                            "method": c.method, "gamma_l": str(c.gamma_l), "gamma_p": str(c.gamma_p),
                            "k_l": str(len(c.known_classes) if c.gamma_l > 0 else 0), "profile": "smoke",
                            "settings": json.dumps(c.settings(), sort_keys=True), "auroc": "0.9"}
    everything = list(rows.values())
    for table, cfgs in grids.items():
        assert {r["config_hash"] for r in everything if in_table(table, r)} == {c.hash for c in cfgs}, table
        cells = compare(table, everything)          # no "mixes runs with different settings" error
        assert {c["n"] for c in cells} == {2}        # two class pairs in every cell
    with pytest.raises(ValueError, match="unknown table"):
        in_table("table3", everything[0])
