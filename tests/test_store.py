"""The results store (aabigan.store): no row lost, misread or duplicated -- each fault found in issue 12 is a
test here, through the store itself and through the grid runner that writes through it."""
import csv
import errno
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from aabigan.__main__ import main
from aabigan.experiments import METHODS, Method, ROW_FIELDS, RunConfig, pending, register_method, run_grid
from aabigan.store import (FID_SCHEMA, RUN_SCHEMA, ResultsFile, ResultsFileError, ResultsLockedError,
                           ResultsWriteError, check_unique, read_rows)
from aabigan.tables import summarise
from helpers import MeanDistance


@pytest.fixture(autouse=True)
def _method():
    register_method(Method("test-store", "MeanDist", lambda s: MeanDistance(**s), True, False))
    MeanDistance.fits = 0
    yield
    METHODS.pop("test-store", None)


def cfg(seed=0):
    return RunConfig("thyroid", "test-store", 0, (1,), 0.01, 0.0, seed, "smoke")


def _row(i=0, **kw):
    """A valid ok run row."""
    row = {k: "" for k in ROW_FIELDS}
    row |= {"config_hash": f"{i:016x}", "status": "ok", "rule": "fixed", "dataset": "thyroid", "method": "x",
            "normal_class": "0", "known_classes": "1", "k_l": "1", "gamma_l": "0.01", "gamma_p": "0.0", "seed": str(i), "profile": "smoke", "auroc": "0.9", "auprc": "0.5", "finished_at": "2026-12-01T00:00:00"}
    return row | kw


def _write(path, rows, fields=ROW_FIELDS, trailing_newline=True):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    if not trailing_newline:
        path.write_bytes(path.read_bytes()[:-1])


# ------------------------------------------------------------------------------- a row is never lost
def test_a_complete_last_row_without_its_newline_is_kept_by_the_next_write(tmp_path):
    out = tmp_path / "r.csv"
    run_grid([cfg(0)], out, progress=False)
    out.write_bytes(out.read_bytes().rstrip(b"\n"))           # e.g. saved by an editor without the final newline
    assert len(read_rows(out)) == 1
    assert run_grid([cfg(0), cfg(1)], out, progress=False) == {"done_before": 1, "ran": 1, "failed": 0}
    assert [r["seed"] for r in read_rows(out)] == ["0", "1"]


def test_a_full_disk_leaves_the_file_as_it_was_and_the_run_is_not_done(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    run_grid([cfg(0)], out, progress=False)
    before = out.read_bytes()
    import aabigan.store as store

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", full)
    with pytest.raises(ResultsWriteError, match="could not write 1 new row.*r.csv.*No space left.*unchanged"):
        run_grid([cfg(0), cfg(1)], out, progress=False)
    assert out.read_bytes() == before                      # all of the run's rows or none
    assert not list(tmp_path.glob("*.part"))               # no half-written temporary left behind
    monkeypatch.undo()
    assert [c.seed for c in pending([cfg(0), cfg(1)], read_rows(out))] == [1]
    assert run_grid([cfg(0), cfg(1)], out, progress=False)["ran"] == 1


def test_a_run_is_done_only_when_all_its_rows_are_there(tmp_path):
    aa = RunConfig("thyroid", "aabigan", gamma_l=0.01)
    rows = [_row(0, config_hash=aa.hash, rule=r) for r in ("last/reconstruction", "last/latent", "val/auto")]
    assert pending([aa], rows) == []
    assert pending([aa], rows[:2]) == [aa]                 # one rule missing: not done
    assert pending([aa], [dict(r, status="failed") for r in rows]) == [aa]


def test_an_incomplete_run_is_trained_again_and_its_rows_replaced(tmp_path):
    out = tmp_path / "r.csv"
    run_grid([cfg(0)], out, progress=False)
    # an older file: the run's "fixed" row is there, but it also should have had another rule
    c = cfg(1)
    _write(out, [*read_rows(out), _row(1, config_hash=c.hash, rule="other")])
    register_method(Method("test-store", "MeanDist", lambda s: MeanDistance(**s), True, False))
    assert run_grid([cfg(0), c], out, progress=False)["ran"] == 1
    rows = read_rows(out)
    assert sorted((r["seed"], r["rule"]) for r in rows) == [("0", "fixed"), ("1", "fixed")]


# --------------------------------------------------------------------------- a row is never misread
@pytest.mark.parametrize("header", [
    ROW_FIELDS[1:] + ROW_FIELDS[:1],                        # columns reordered
    ROW_FIELDS[:-1],                                        # one column fewer
    ["name", "value"],                                      # a foreign file
])
def test_a_file_of_another_schema_is_refused_before_anything_trains(tmp_path, header):
    out = tmp_path / "r.csv"
    out.write_text(",".join(header) + "\n")
    with pytest.raises(ResultsFileError, match=r"r\.csv: its header is not the one this version writes"):
        run_grid([cfg(0)], out, progress=False)
    assert MeanDistance.fits == 0
    assert out.read_text() == ",".join(header) + "\n"
    with pytest.raises(ResultsFileError, match="header"):
        read_rows(out)


def test_an_fid_file_is_not_read_as_run_rows(tmp_path):
    out = tmp_path / "fid.csv"
    _write(out, [], FID_SCHEMA.fields)
    assert read_rows(out) == []                            # a known schema: fine to read
    with pytest.raises(ResultsFileError, match="header"):
        run_grid([cfg(0)], out, progress=False)


def test_an_fid_file_of_the_old_header_names_its_migration(tmp_path):
    out = tmp_path / "fid.csv"
    _write(out, [], [f for f in FID_SCHEMA.fields if f != "config_hash"])
    with pytest.raises(ResultsFileError, match=r"older version's header: aabigan.migrations.fid_config_hash"):
        read_rows(out)
    with pytest.raises(ResultsFileError, match="header"):
        ResultsFile(out, FID_SCHEMA).open()


@pytest.mark.parametrize("edit, problem", [
    (lambda t: t.replace("\n", ",extra\n").replace(",extra\n", "\n", 1), "29 values for 28 columns"),
    (lambda t: t.rsplit(",", 3)[0] + "\n", "25 values for 28 columns"),      # a torn last line
    (lambda t: t.replace(",0.9,0.5,", ",,0.5,"), "auroc '' is not a number"),
    (lambda t: t.replace(",0.9,0.5,", ",nan,0.5,"), "auroc is nan"),
    (lambda t: t.replace(",ok,", ",maybe,"), "status 'maybe'"),
])
def test_every_malformed_line_is_reported_with_file_and_line(tmp_path, edit, problem):
    out = tmp_path / "r.csv"
    _write(out, [_row(0), _row(1)])
    out.write_text(edit(out.read_text()))
    with pytest.raises(ResultsFileError, match=rf"r\.csv:[23]: .*{problem}|{problem}"):
        read_rows(out)
    with pytest.raises(ResultsFileError, match=r"r\.csv:[23]"):
        run_grid([cfg(0)], out, progress=False)            # never trained over, never dropped
    assert MeanDistance.fits == 0


def test_the_table_command_names_the_bad_line(tmp_path, capsys):
    out = tmp_path / "r.csv"
    _write(out, [_row(0, method="aabigan"), _row(1, method="aabigan", auroc="")])
    with pytest.raises(ResultsFileError, match=r"r\.csv:3: auroc"):
        main(["table", "table2", str(out)])


# ------------------------------------------------------------------------- a row is never duplicated
def test_a_second_writer_is_refused(tmp_path):
    out = tmp_path / "r.csv"
    with ResultsFile(out):
        with pytest.raises(ResultsLockedError, match=r"r\.csv is being written by another runner \(pid"):
            run_grid([cfg(0)], out, progress=False)
    assert MeanDistance.fits == 0
    assert run_grid([cfg(0)], out, progress=False)["ran"] == 1          # the lock went with its holder


def test_a_second_runner_process_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "r.csv"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from aabigan.store import ResultsFile
        with ResultsFile({str(out)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ResultsLockedError, match=f"pid {holder.pid}"):
            run_grid([cfg(0)], out, progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert run_grid([cfg(0)], out, progress=False)["ran"] == 1          # a killed holder leaves no stale lock


def test_duplicates_are_refused_in_a_file_and_by_table(tmp_path):
    out = tmp_path / "r.csv"
    _write(out, [_row(0), _row(1), _row(0)])
    with pytest.raises(ResultsFileError, match=r"duplicate.*r\.csv:2 and .*r\.csv:4"):
        read_rows(out)
    _write(out, [_row(0, method="aabigan"), _row(1, method="aabigan")])
    rows = read_rows(out)
    with pytest.raises(ResultsFileError, match="duplicate"):
        summarise(rows + rows, ("dataset", "method"), "fixed")            # the same file given twice
    with pytest.raises(ResultsFileError, match="duplicate"):
        main(["table", "table2", str(out), str(out)])
    check_unique([_row(0), _row(0, status="failed", auroc="")])          # a failed attempt is no duplicate


def test_a_run_killed_at_any_moment_loses_and_duplicates_nothing(tmp_path):
    """SIGKILL a grid runner again and again mid-grid; every resume continues, and the file always reads."""
    out = tmp_path / "r.csv"
    script = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        from aabigan.experiments import Method, RunConfig, register_method, run_grid

        class Slow:
            def __init__(self, **s): pass
            def fit(self, X, y=None):
                time.sleep(0.05); self.mu_ = X.mean(0); return self
            def decision_function(self, X): return np.linalg.norm(X - self.mu_, axis=1)

        register_method(Method("slow", "Slow", lambda s: Slow(**s), True, False))
        run_grid([RunConfig("thyroid", "slow", seed=s) for s in range(12)], {str(out)!r}, progress=False)
        """)
    rng = np.random.default_rng(0)
    for _ in range(6):
        p = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
        time.sleep(float(rng.uniform(1.5, 3.0)))
        p.send_signal(signal.SIGKILL)
        p.wait()
        read_rows(out)                                      # always a valid file
    subprocess.run([sys.executable, "-c", script], check=True, stderr=subprocess.DEVNULL)
    seeds = [int(r["seed"]) for r in read_rows(out)]
    assert sorted(seeds) == list(range(12))


# -------------------------------------------------------------------------------- before training
def test_an_unwritable_output_fails_before_the_first_run_trains(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ResultsWriteError, match="cannot write results to"):
        run_grid([cfg(0)], blocker / "r.csv", progress=False)
    assert MeanDistance.fits == 0


def test_rows_keep_their_source_and_the_writes_round_trip(tmp_path):
    out = tmp_path / "r.csv"
    run_grid([cfg(0), cfg(1)], out, progress=False)
    text = out.read_text()
    rows = read_rows(out)
    assert [r.source for r in rows] == [f"{out}:2", f"{out}:3"]
    with ResultsFile(out, RUN_SCHEMA) as store:
        store.append([])
    assert out.read_text() == text                          # rewriting keeps every byte of the rows


def test_the_store_refuses_to_write_a_malformed_row(tmp_path):
    with ResultsFile(tmp_path / "r.csv") as store:
        with pytest.raises(ValueError, match="malformed row.*auroc"):
            store.append([_row(0, auroc="")])
        with pytest.raises(ValueError, match="columns.*bogus"):
            store.append([_row(0) | {"bogus": 1}])
    assert not (tmp_path / "r.csv").exists() or read_rows(tmp_path / "r.csv") == []
    with pytest.raises(RuntimeError, match="not open for writing"):
        ResultsFile(tmp_path / "r.csv").append([_row(0)])
