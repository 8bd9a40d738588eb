"""Paper tables under both selection rules side by side (aabigan.tables.compare_selection), on hand-made rows."""
import pytest

from aabigan.tables import SELECTIONS, compare_selection, selection_rules, to_wide


def _row(method, rule, auroc, seed, dataset="thyroid", profile="cpu", status="ok", gamma_l=0.01):
    return {"config_hash": f"{method}-{dataset}-{seed}-{profile}", "status": status, "rule": rule,
            "dataset": dataset, "method": method, "auroc": auroc, "seed": seed, "profile": profile,
            "gamma_l": gamma_l, "gamma_p": 0.0, "k_l": 1, "settings": "{}"}


def _runs(method, rules_aurocs, seeds=(0, 1), **kw):
    return [_row(method, rule, a + 0.02 * s, s, **kw) for s in seeds for rule, a in rules_aurocs.items()]


ROWS = (_runs("aabigan", {"last/reconstruction": 0.90, "last/latent": 0.50, "val/auto": 0.94})
        + _runs("deepsad", {"last": 0.80, "val/epoch": 0.84})
        + _runs("ocsvm", {"fixed": 0.70}))


def test_each_kind_of_method_is_read_under_its_rule():
    assert selection_rules("aabigan", "label_free") == ("last/reconstruction",)
    assert selection_rules("aabigan-unsup", "validation") == ("val/auto",)
    assert selection_rules("deepsad", "label_free") == ("last", "fixed")
    assert selection_rules("deepsad", "validation") == ("val/epoch",)
    assert selection_rules("ssad-hybrid", "label_free") == selection_rules("ssad-hybrid", "validation") == ("fixed",)
    assert set(SELECTIONS) == {"label_free", "validation"}
    with pytest.raises(ValueError, match="unknown selection 'best'"):
        selection_rules("aabigan", "best")


def test_both_rules_side_by_side():
    cells = {c["method"]: c for c in compare_selection("table2", ROWS)}
    assert set(cells) == {"AA-BiGAN", "Deep SAD", "OCSVM"}
    aa, sad, oc = cells["AA-BiGAN"], cells["Deep SAD"], cells["OCSVM"]
    assert (aa["label_free"], aa["validation"], aa["label_free_n"], aa["validation_n"]) == \
        ("91.0 ± 1.4", "95.0 ± 1.4", 2, 2)                      # last/latent is in neither column
    assert (aa["label_free_mean"], aa["validation_mean"]) == (pytest.approx(91.0), pytest.approx(95.0))
    assert (sad["label_free"], sad["validation"]) == ("81.0 ± 1.4", "85.0 ± 1.4")
    assert oc["label_free"] == oc["validation"] == "71.0 ± 1.4"   # a kernel method has nothing to choose
    assert aa["paper"] == "98.9 ± 0.1" and aa["profile"] == "cpu"
    assert sad["ours"] == "81.0 ± 1.4 / 85.0 ± 1.4"
    wide, cols = to_wide(compare_selection("table2", ROWS), "table2")
    assert cols == ["dataset", "AA-BiGAN", "Deep SAD", "OCSVM"]
    assert wide[0]["Deep SAD"] == "81.0 ± 1.4 / 85.0 ± 1.4 (98.6 ± 0.9)"


def test_a_baseline_row_written_before_the_epoch_rules_counts_as_label_free_only():
    rows = _runs("deepsad", {"fixed": 0.80})
    (sad,) = compare_selection("table2", rows)
    assert (sad["label_free"], sad["label_free_n"], sad["validation"], sad["validation_n"]) == ("81.0 ± 1.4", 2, "—", 0)
    assert sad["validation_mean"] is None and sad["label_free_mean"] == pytest.approx(81.0)
    # one run with both its old fixed and its new last row would count twice: refused
    with pytest.raises(ValueError, match="duplicate"):
        compare_selection("table2", rows + _runs("deepsad", {"last": 0.80}))


def test_rows_of_different_profiles_are_not_compared():
    rows = ROWS + _runs("nda", {"last": 0.6, "val/epoch": 0.7}, profile="smoke")
    with pytest.raises(ValueError, match="profiles cpu, smoke"):
        compare_selection("table8", rows)
    assert {c["method"] for c in compare_selection("table8", rows, profile="smoke")} == {"NDA"}
    assert {c["profile"] for c in compare_selection("table8", rows, profile="cpu")} == {"cpu"}


def test_failed_rows_and_other_tables_rows_are_left_out():
    rows = ROWS + [_row("deepsad", "last", "", 5, status="failed"),
                   _row("deepsad", "last", 0.1, 6, gamma_l=0.05)]      # the gamma sweep, not Table 2
    sad = next(c for c in compare_selection("table2", rows) if c["method"] == "Deep SAD")
    assert sad["label_free_n"] == 2
    with pytest.raises(ValueError, match="unknown table 'table3'"):
        compare_selection("table3", rows)


def test_table1_has_a_cell_per_ratio_with_the_papers_value():
    rows = [dict(r, dataset="mnist", gamma_l=g, k_l=1 if g else 0, config_hash=f"{r['config_hash']}-{g}")
            for g in (0.0, 0.05) for r in ROWS if r["method"] != "ocsvm"]
    cells = {(c["gamma_l"], c["method"]): c for c in compare_selection("table1", rows)}
    assert set(cells) == {(g, m) for g in ("0.00", "0.05") for m in ("AA-BiGAN", "Deep SAD")}
    aa = cells[("0.05", "AA-BiGAN")]
    assert (aa["label_free"], aa["validation"], aa["n"]) == ("91.0 ± 1.4", "95.0 ± 1.4", "2")
    rows.append(dict(rows[0], seed=7, config_hash="one-more"))           # a run reported under one rule only
    assert next(c for c in compare_selection("table1", rows) if c["method"] == "AA-BiGAN"
                and c["gamma_l"] == "0.00")["n"] == "3 / 2"
    assert aa["paper"] == "97.8 ± 2.0" and cells[("0.00", "Deep SAD")]["paper"] == "92.8 ± 4.9"


def _cell(method, ours, paper, dataset="Thyroid", **extra):
    return {"dataset": dataset, "method": method, "ours": ours, "paper": paper, **extra}


def test_wide_cells_are_marked_against_the_paper():
    from aabigan.tables import MARKERS, caption
    table = [_cell("AA-BiGAN", "99.0 ± 0.5", "98.9 ± 0.1"),      # above the paper's mean
             _cell("Deep SAD", "98.8 ± 0.5", "98.9 ± 0.1"),      # at mean - std: within
             _cell("NDA", "98.7 ± 0.5", "98.9 ± 0.1"),           # below mean - std
             _cell("CAE", "90.0 ± 1.0", "—"),                    # the paper prints nothing
             _cell("AA-BiGAN", "80.0 ± 1.0", "75.8 ± 3.2", dataset="Cardio")]
    wide, cols = to_wide(table, "table2", marks=True)
    assert cols == ["dataset", "AA-BiGAN", "Deep SAD", "NDA", "CAE"]
    thy, car = wide
    assert thy["AA-BiGAN"] == "99.0 ± 0.5 ▲ (98.9 ± 0.1)"
    assert thy["Deep SAD"] == "98.8 ± 0.5 ≈ (98.9 ± 0.1)"
    assert thy["NDA"] == "98.7 ± 0.5 ▼ (98.9 ± 0.1)"
    assert thy["CAE"] == "90.0 ± 1.0 (—)"                      # no mark without a paper value
    assert car == {"dataset": "Cardio", "AA-BiGAN": "80.0 ± 1.0 ▲ (75.8 ± 3.2)"}   # a method missing: no key
    assert to_wide(table, "table2")[0][0]["NDA"] == "98.7 ± 0.5 (98.9 ± 0.1)"     # unmarked by default
    text = caption("table2", "cpu", "val/auto")
    assert "Table 2" in text and "profile cpu" in text and "rule val/auto" in text
    assert all(m in text for m in MARKERS.values())
    assert not any(m in caption("table2", "cpu", "val/auto", marks=False) for m in MARKERS.values())


def test_wide_marks_each_selection_of_compare_selection():
    rows = ROWS + _runs("aabigan", {"last/reconstruction": 0.90, "val/auto": 0.98}, dataset="cardio")
    wide, cols = to_wide(compare_selection("table2", rows), "table2", marks=True)
    by_ds = {w["dataset"]: w for w in wide}
    # the paper's AA-BiGAN (Table 2): thyroid 98.9 ± 0.1, both of ours below; cardio 98.0 ± 1.2
    assert by_ds["Thyroid"]["AA-BiGAN"] == "91.0 ± 1.4 ▼ / 95.0 ± 1.4 ▼ (98.9 ± 0.1)"
    assert by_ds["Cardio"]["AA-BiGAN"] == "91.0 ± 1.4 ▼ / 99.0 ± 1.4 ▲ (98.0 ± 1.2)"
    missing = [_cell("Deep SAD", "— / 85.0 ± 1.4", "86.0 ± 1.5")]     # no label-free rows: no mark for it
    assert to_wide(missing, "table2", marks=True)[0][0]["Deep SAD"] == "— / 85.0 ± 1.4 ≈ (86.0 ± 1.5)"


def test_wide_and_caption_refuse_an_unknown_table():
    from aabigan.tables import caption
    with pytest.raises(ValueError, match="unknown table 'table9'"):
        to_wide([], "table9")
    with pytest.raises(ValueError, match="unknown table 'table9'"):
        caption("table9", "cpu", "val/auto")
