"""The committed result rows: every one names its profile, seed, settings, versions and the clean commit that
wrote it, and is the row of the config the current code would train for it (none is stale)."""
import json
from pathlib import Path

import pytest

from aabigan.experiments import ROW_FIELDS, RunConfig, read_rows, run_one
from aabigan.profiles import PROFILES

RESULTS = Path(__file__).resolve().parents[1] / "results"
RUN_FILES = sorted(p for p in RESULTS.glob("*.csv") if p.read_text().startswith("config_hash,"))


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
        assert RunConfig.from_row(r).hash == r["config_hash"], f"{path.name}: stale row {r['config_hash']}"


def test_from_row_recovers_overrides():
    cfg = RunConfig("thyroid", "aabigan", gamma_l=0.01, seed=3, profile="smoke",
                    overrides=(("ema_decay", 0.99), ("min_steps", 7)))
    row = run_one(RunConfig("thyroid", "aabigan", gamma_l=0.01, seed=3, profile="smoke",
                            overrides=(("ema_decay", 0.99), ("min_steps", 7), ("epochs", 1))))[0]
    back = RunConfig.from_row(row)
    assert back.overrides == (("ema_decay", 0.99), ("epochs", 1), ("min_steps", 7))
    assert back.hash == row["config_hash"] and back.hash != cfg.hash
