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


def test_compile_switch_is_timed_when_asked_for(gpu, tmp_path):
    assert gpu.main(["--tiny", "--device", "cpu", "--compile", "--no-rows", "--archs", "authors", "--budget-s", "900",
                     "--out", str(tmp_path)]) == 0
    rep = json.loads((tmp_path / "gpu-report.json").read_text())["step_times"]["authors"]
    assert rep["compile"]["runs"] == 2 and rep["compile"]["step_s"] > 0, rep["compile"]
    assert rep["amp_bf16"]["step_s"] > 0


# ------------------------------------------------------------------- benchmarks/steps.py (CPU ratios)
@pytest.fixture(scope="module")
def steps():
    spec = importlib.util.spec_from_file_location("steps_bench", SCRIPT.parent / "steps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rebuilt_authors_step_trains_all_four_networks(steps):
    import torch

    nets = steps._nets("authors", (1, 32, 32), width=4)
    before = {name: [p.detach().clone() for p in mod.parameters()] for name, mod in nets.modules().items()}
    g = torch.Generator().manual_seed(0)
    x, xn = torch.rand(8, 1, 32, 32, generator=g), torch.rand(2, 1, 32, 32, generator=g)
    z = torch.randn(8, nets.latent_dim, generator=g)
    loss_d, loss_ge = steps.AuthorsStep(nets)(x, xn, z)
    assert loss_d > 0 and loss_ge > 0
    for name, mod in nets.modules().items():
        assert any(not torch.equal(b, p) for b, p in zip(before[name], mod.parameters())), name


def test_committed_steps_report_renders(steps):
    rep = json.loads((SCRIPT.parent / "report-steps.json").read_text())
    assert rep["threads"] == 1 and rep["batch"] == 200 and rep["neg_batch"] == 50
    assert set(rep["ours_vs_authors"]["with_switch"]) == {"amp", "compile"}
    assert set(rep["stacking"]) == {"dcgan-w16", "authors"}
    text = steps.to_markdown(rep)
    assert "Our step against the authors' step" in text and "| compile |" in text
    assert text == (SCRIPT.parent / "report-steps.md").read_text()
