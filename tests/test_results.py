"""The committed result rows: every one names its profile, seed, settings, versions and the clean commit that
wrote it, and is the row of the config the current code trains for it under its profile -- today's definition,
or a superseded one that :data:`aabigan.profiles.SUPERSEDED` keeps (the image rows of ``cpu@1``)."""
import json
from pathlib import Path

import pytest

from aabigan.experiments import ROW_FIELDS, RunConfig, protocol_of, read_rows, rows_of_protocol, run_one
from aabigan.profiles import PROFILES, versions_of
from aabigan.store import CURVE_FIELDS

RESULTS = Path(__file__).resolve().parents[1] / "results"
RUN_FILES = sorted(p for p in RESULTS.glob("*.csv") if p.read_text().startswith(",".join(ROW_FIELDS) + "\n"))
CURVE_FILES = sorted(p for p in RESULTS.glob("*.csv") if p.read_text().startswith(",".join(CURVE_FIELDS) + "\n"))


def test_there_are_committed_run_rows():
    assert len(RUN_FILES) >= 6


@pytest.mark.parametrize("path", RUN_FILES, ids=lambda p: p.name)
def test_rows_carry_provenance_and_match_their_config(path):
    rows = read_rows(path)
    assert rows, f"{path.name} holds no rows"
    for r in rows:
        assert list(r)[:len(ROW_FIELDS)] == ROW_FIELDS
        assert r["status"] in ("ok", "failed") and r["profile"] in PROFILES
        assert r["commit"] not in ("", "unknown") and not r["commit"].endswith("-dirty"), r["commit"]
        assert r["status"] == "failed" or (r["torch_version"] and r["aabigan_version"] and r["device"])
        json.loads(r["settings"])
        if r["status"] == "ok":
            assert 0.0 <= float(r["auroc"]) <= 1.0
        # a row is its config under its profile today, or under a superseded definition of it (kept checkable)
        version = protocol_of(r)
        assert version in versions_of(r["profile"]), f"{r.source}: no definition of {r['profile']} gives its hash"
        cfg = RunConfig.from_row({**r, "profile": version})
        assert cfg.hash == r["config_hash"]
        # the settings column is what the method's estimator was built with, and the split options of its data
        assert json.loads(r["settings"]) == json.loads(json.dumps({**cfg.params(), **cfg.split_options()})), r.source


def test_the_settings_migration_rewrites_old_rows_and_keeps_their_hashes(tmp_path):
    """aabigan.migrations.settings_as_run: a baseline row of the old column (the profile's AA-BiGAN settings)
    gets the estimator's parameters; its hash stays; a second pass changes nothing."""
    from aabigan.migrations import settings_as_run
    from aabigan.store import RUN_SCHEMA, ResultsFile

    rows = [r for r in read_rows(RESULTS / "images-cpu.csv") if r["method"] == "deepsad"][:2]
    old = [dict(r, settings=json.dumps(RunConfig.from_row({**r, "profile": "cpu@1"}).settings(), sort_keys=True))
           for r in rows]                                   # rows of the superseded cpu image protocol
    assert json.loads(old[0]["settings"])["width"] == 16 and "neg_batch_size" in json.loads(old[0]["settings"])
    out = tmp_path / "old.csv"
    with ResultsFile(out, RUN_SCHEMA) as store:
        store.append(old)
    assert settings_as_run(out) == 2 and settings_as_run(out) == 0
    new = read_rows(out)
    assert [dict(r) for r in new] == [dict(r) for r in rows]
    assert json.loads(new[0]["settings"]) == {"batch_size": 64, "epochs": 20, "width": 8}


def test_the_default_c_migration_drops_only_runs_that_repeat_one_setting_no_c(tmp_path):
    """aabigan.migrations.drop_default_c_reruns: a run setting c = 0.75 whose twin sets none with the same
    results goes (all its rules); one without a twin stays; a twin with other results is an error."""
    from aabigan.migrations import drop_default_c_reruns
    from aabigan.store import RUN_SCHEMA, ResultsFile

    plain = [r for r in read_rows(RESULTS / "images-cpu.csv") if r["method"] == "aabigan" and r["status"] == "ok"
             and float(r["gamma_p"]) == 0 and "c" not in json.loads(r["settings"])]
    first = [r for r in plain if r["config_hash"] == plain[0]["config_hash"]]    # the rules of one run
    other = [r for r in plain if r["config_hash"] == next(q["config_hash"] for q in plain if q["seed"] != "0"
                                                             or q["normal_class"] != first[0]["normal_class"])]

    def at_c(rows, tag):
        return [dict(r, config_hash=tag, settings=json.dumps({**json.loads(r["settings"]), "c": 0.75},
                                                             sort_keys=True)) for r in rows]
    lone = [dict(r, gamma_p="0.1") for r in at_c(other, "b" * 16)]               # no twin at gamma_p = .1
    out = tmp_path / "rows.csv"
    with ResultsFile(out, RUN_SCHEMA) as store:
        store.append(first)
        store.append(at_c(first, "a" * 16))
        store.append(lone)
    assert drop_default_c_reruns(out) == len(first) and drop_default_c_reruns(out) == 0
    assert [dict(r) for r in read_rows(out)] == [dict(r) for r in first + lone]
    with ResultsFile(out, RUN_SCHEMA) as store:
        store.append([dict(r, auroc="0.5") for r in at_c(first, "c" * 16)])
    before = out.read_text()
    with pytest.raises(ValueError, match="their results differ"):
        drop_default_c_reruns(out)
    assert out.read_text() == before


def test_from_row_recovers_overrides():
    cfg = RunConfig("thyroid", "aabigan", gamma_l=0.01, seed=3, profile="smoke",
                    overrides=(("ema_decay", 0.99), ("min_steps", 7)))
    row = run_one(RunConfig("thyroid", "aabigan", gamma_l=0.01, seed=3, profile="smoke",
                            overrides=(("ema_decay", 0.99), ("min_steps", 7), ("epochs", 1))))[0]
    back = RunConfig.from_row(row)
    assert back.overrides == (("ema_decay", 0.99), ("epochs", 1), ("min_steps", 7))
    assert back.hash == row["config_hash"] and back.hash != cfg.hash


@pytest.mark.parametrize("path", CURVE_FILES, ids=lambda p: p.name)
def test_learning_curves_carry_provenance_and_match_their_config(path):
    """Each committed learning curve: a clean commit, its config's hash, epochs 1..n with steps growing."""
    rows = read_rows(path)
    runs = {}
    for r in rows:
        assert r["commit"] not in ("", "unknown") and not r["commit"].endswith("-dirty"), r.source
        if r["status"] == "ok":
            assert RunConfig.from_row(r).hash == r["config_hash"], f"{r.source}: stale row"
            runs.setdefault(r["config_hash"], []).append((int(r["epoch"]), int(r["steps"])))
    for curve in runs.values():
        assert [e for e, _ in curve] == list(range(1, len(curve) + 1))
        assert all(s2 > s1 for (_, s1), (_, s2) in zip(curve, curve[1:]))


def test_rows_of_a_changed_profile_are_stale_and_the_table_command_leaves_them_out(monkeypatch, tmp_path, capsys):
    import dataclasses
    import aabigan.profiles as profiles
    from aabigan.__main__ import main
    from aabigan.experiments import current_rows
    rows = read_rows(RESULTS / "odds-cpu.csv") + read_rows(RESULTS / "odds-paper.csv")
    current, stale = current_rows(rows)
    assert len(current) == len(rows) and not stale           # the committed rows are today's protocol
    changed = dict(PROFILES)                                 # the cpu profile's ODDS schedule, one epoch longer
    changed["cpu"] = dataclasses.replace(PROFILES["cpu"], tabular={**PROFILES["cpu"].tabular,
                                                                    "epochs": PROFILES["cpu"].tabular["epochs"] + 1})
    monkeypatch.setattr(profiles, "PROFILES", changed)
    current, stale = current_rows(rows)
    assert {r["profile"] for r in stale} == {"cpu"} and {r["profile"] for r in current} == {"paper"}
    assert len(stale) == sum(r["profile"] == "cpu" for r in rows)
    broken = dict(rows[0], method="no-such-method")          # a row this version cannot rebuild is not current
    assert current_rows([broken]) == ([], [broken])
    hand_made = dict(rows[0], config_hash="")                # nothing to check it against: kept
    assert current_rows([hand_made]) == ([hand_made], [])
    assert main(["table", "table2", str(RESULTS / "odds-cpu.csv"), "--rule", "val/auto"]) == 0
    out = capsys.readouterr()
    assert f"{len(stale)} rows of configs that their profile no longer defines are left out" in out.err
    assert "profile none" in out.out                          # nothing current to show


def test_the_image_rows_before_the_study_are_the_superseded_cpu_profile_and_stay_reproducible():
    """The cpu image rows written before issue 13's study are of ``cpu@1`` (20 epochs on 1000 images): they are
    not current, every row is checkable under one definition or the other, a ``cpu@1`` grid finds most of
    Table 1's cells done, and no config of today's cpu grid is one of cpu@1's."""
    from aabigan.experiments import current_rows, grid, pending

    rows = read_rows(RESULTS / "images-cpu.csv")
    current, stale = current_rows(rows)
    by = {v: rows_of_protocol(rows, v) for v in ("cpu", "cpu@1")}
    # 830 rows, less the 30 that repeated Table 1's cell at c = 0.75 (aabigan.migrations.drop_default_c_reruns)
    assert (current, stale) == (by["cpu"], by["cpu@1"]) and len(by["cpu@1"]) == 800
    assert {protocol_of(r) for r in rows} <= {"cpu", "cpu@1"}       # no row of an unknown definition
    table1 = [r for r in rows if float(r["gamma_p"]) == 0 and "c" not in json.loads(r["settings"])]
    before = grid("table1", "cpu@1", datasets=["mnist", "fmnist"], methods=["aabigan"])
    assert len(pending(before, table1)) < len(before) / 2       # most of the old cells are there
    today = grid("table1", "cpu", datasets=["mnist", "fmnist"], methods=["aabigan"])
    assert {c.hash for c in before}.isdisjoint(c.hash for c in today)
    assert {r["config_hash"] for r in by["cpu"]} <= {c.hash for c in grid("table1", "cpu", methods=[
        "aabigan", "deepsad", "supervised", "ssad-hybrid", "ocsvm-hybrid"])}   # today's rows: Table 1's grid


def test_the_cpu_image_schedule_is_the_one_the_learning_curve_study_chooses():
    """profiles.CPU_IMAGE_SCHEDULE is what figures.choose_schedules picks from the committed study -- per dataset
    the steps and the width whose 10-pair cell is the cheapest that fits about an hour -- and the cpu profile
    trains that width for the epochs that take the smallest class of the dataset at least that far."""
    import numpy as np

    from aabigan.data import DISPLAY_NAMES, load_images
    from aabigan.figures import choose_schedules, schedule_options
    from aabigan.profiles import CPU_IMAGE_SCHEDULE, epochs_reaching, get_profile

    chosen = choose_schedules(schedule_options(read_rows(RESULTS / "convergence-curves.csv")))
    assert {d: (o["steps"], o["width"]) for d, o in chosen.items()} == dict(CPU_IMAGE_SCHEDULE)
    assert all(o["shortfall"] <= 1.0 and o["cell_minutes"] <= 75 for o in chosen.values())
    cpu = get_profile("cpu")
    assert cpu.split_image == {} and cpu.pairs == "ring"
    for d, (steps, width) in CPU_IMAGE_SCHEDULE.items():
        smallest = int(np.bincount(load_images(d, train=True)[1]).min())
        settings = cpu.method_settings(d, "image")
        epochs = epochs_reaching(steps, smallest, settings["batch_size"])
        assert (settings["epochs"], settings["width"]) == (epochs, width)
        assert f"{DISPLAY_NAMES[d]} width {width}, {epochs} epochs" in cpu.description


def test_the_table_command_shows_a_superseded_definition_by_its_name(capsys):
    from aabigan.__main__ import main

    path = str(RESULTS / "images-cpu.csv")
    assert main(["table", "table1", path]) == 0
    out = capsys.readouterr()
    assert "--profile NAME@N" in out.err and "profile cpu," in out.out       # today's cpu profile only
    assert "89.6 ± 7.0" not in out.out                                    # cpu@1's MNIST 0.01 cell, left out
    assert main(["table", "table1", path, "--profile", "cpu@1"]) == 0
    out = capsys.readouterr()
    assert "profile cpu@1" in out.out and not out.err
    assert "| MNIST | 0.01 | 81.5 ± 9.1 ▼ / 89.6 ± 7.0 ▼ (97.4 ± 2.1) |" in out.out    # label-free / validation
