"""benchmarks/gpu.py, the prepared device check, run end to end on the CPU in its tiny setting."""
from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


@pytest.fixture(scope="module")
def gpu():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_the_report_and_rows(gpu, tmp_path, capsys):
    assert gpu.main(["--tiny", "--device", "cpu", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "dcgan R=2" in printed and "authors R=2" in printed and "rows: normal class 0" in printed
    report = json.loads((tmp_path / "gpu-report.json").read_text())
    assert report["setting"] == "tiny" and report["device"]["device"] == "cpu"
    assert set(report["matmul_tflops"]) == {"fp32", "bf16"}
    for arch in ("dcgan", "authors"):
        rep = report["step_times"][arch]
        assert rep["flops_per_step_single"] > 0 and rep["single"]["step_s"] > 0
        for R in ("1", "2"):
            t = rep["runs"][R]
            assert t["step_s"] > 0 and t["images_per_s"] > 0 and t["speedup_vs_R_single_steps"] > 0
            assert t["flops_per_step"] == int(R) * rep["flops_per_step_single"]
            assert set(t["fraction_of_peak"]) == {"fp32", "bf16"}     # the CPU: the measured matmul peak
    stacks = report["rows"]["stacks"]
    assert stacks and stacks[0]["runs"] == 2 and stacks[0]["normal_class"] == 0
    with open(tmp_path / "gpu-rows.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok"}
    assert {r["known_classes"] for r in rows} == {"1", "2"} and {r["profile"] for r in rows} == {"smoke"}
    assert all(r["device"].startswith("cpu:") for r in rows)
    # resumable: a second run finds the rows done and trains nothing
    assert gpu.main(["--tiny", "--device", "cpu", "--out", str(tmp_path)]) == 0
    assert len(list(csv.DictReader(open(tmp_path / "gpu-rows.csv")))) == 6
    assert json.loads((tmp_path / "gpu-report.json").read_text())["rows"]["stacks"] == []


def test_stack_time_is_interpolated_between_measured_sizes(gpu):
    rep = {"a": {"single": {"step_s": 1.0}, "runs": {"10": {"step_s": 4.0}, "45": {"skipped": "time"}}}}
    assert gpu._stack_seconds(rep, "a", 1) == 1.0
    assert gpu._stack_seconds(rep, "a", 4) == pytest.approx(2.0)
    assert gpu._stack_seconds(rep, "a", 20) == pytest.approx(8.0)      # beyond the last: in proportion to R
    assert gpu._stack_seconds(rep, "b", 3) is None
