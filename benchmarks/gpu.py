"""The prepared device check (issue 17, part 4): one command, one GPU, under 8 minutes.

    python benchmarks/gpu.py --out "$OUT"                 # on a GPU: writes $OUT/gpu-report.json, gpu-rows.csv
    python benchmarks/gpu.py --tiny --out /tmp/gpu-tiny   # the whole script in seconds on a CPU (a test runs it)

It prints as it goes and writes, under ``--out``:

* ``gpu-report.json``: the device (name, memory, torch/CUDA/cuDNN versions, TF32 switches); a measured matmul
  peak (fp32, tf32, bf16) beside the spec sheet's dense peak where the device is known; for each image
  architecture (``dcgan`` on 3x32x32 as the data loader gives MNIST, ``authors`` on their 1x32x32) at the
  paper profile's width 64 and batch 200 + 50: the step time of one run alone and of R = 1, 10, 45, 90 runs
  stacked (:mod:`aabigan.stacked`), images/s, the FLOPs of a step counted by ``torch.utils.flop_counter``,
  the achieved TFLOP/s against the device's peak, and the peak GPU memory; at R = 10 the step under bfloat16
  autocast (``amp``) and, while more than 300 s are left, under ``torch.compile`` (``compile``; its first
  epoch holds the compilation);
* ``gpu-rows.csv``: result rows of one paper-profile slice -- Table 1's MNIST cell gamma_l = 0.05, as many
  (normal, collected) pairs as fit in the time left, the nine pairs of one normal class trained as one stack
  (their data sizes agree) -- with the device in their provenance, as the grid runner writes them.

Everything is bounded by ``--budget-s`` (default 450 s): a section that would not fit is skipped and says
so, and the training of the result rows is stopped by an alarm (its stack's rows are then not written).

On the device machine the data must travel with the repository: copy ``../shared/data/MNIST`` into a folder
of the checkout that ``.git/info/exclude`` ignores (``.gpu-data/MNIST``), name it in ``carry`` and set
``AABIGAN_DATA=.gpu-data``.  Without the data the rows section is skipped and the report says why.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aabigan import __version__  # noqa: E402
from aabigan.nets import build_networks  # noqa: E402
from aabigan.stacked import stack_networks  # noqa: E402
from aabigan.trainer import TrainConfig, train  # noqa: E402

#: dense spec-sheet peaks in TFLOP/s (fp32 on CUDA cores, tf32 and bf16 on tensor cores), by a piece of the
#: device's name; the first match counts
SPEC_PEAKS = (
    ("H200", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4}),
    ("H100 PCIe", {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0}),
    ("H100", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4}),
    ("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0}),
    ("L40S", {"fp32": 91.6, "tf32": 183.0, "bf16": 362.0}),
    ("A10G", {"fp32": 31.2, "tf32": 62.5, "bf16": 125.0}),
    ("L4", {"fp32": 30.3, "tf32": 60.0, "bf16": 121.0}),
    ("T4", {"fp32": 8.1, "tf32": None, "bf16": None}),
)

#: the two settings: the real check, and a run of every code path in seconds on a CPU
SETTINGS = {
    "full": dict(runs=(1, 10, 45, 90), width=64, batch=200, neg_batch=50, warmup=3, steps=8, matmul_n=8192,
                 profile="paper", pairs=None, compile=True),
    "tiny": dict(runs=(1, 2), width=4, batch=8, neg_batch=2, warmup=1, steps=2, matmul_n=256,
                 profile="smoke", pairs=((0, 1), (0, 2)), compile=False),
}
#: architecture -> the image shape it is timed on (our MNIST tensors have 3 channels; the authors' 1)
ARCH_SHAPES = {"dcgan": (3, 32, 32), "authors": (1, 32, 32)}

T0 = time.perf_counter()


def say(*parts) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s]", *parts, flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def left(budget: float) -> float:
    return budget - (time.perf_counter() - T0)


# -------------------------------------------------------------------------------------------- device
def device_info(device: torch.device) -> dict:
    info = {"device": str(device), "torch": torch.__version__, "aabigan": __version__,
            "python": platform.python_version(), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_benchmark": torch.backends.cudnn.benchmark, "cpu_threads": torch.get_num_threads()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info.update(name=p.name, memory_gib=round(p.total_memory / 2**30, 1), sm_count=p.multi_processor_count,
                    capability=f"{p.major}.{p.minor}")
        info["spec_peak_tflops"] = next((v for k, v in SPEC_PEAKS if k in p.name), None)
    else:
        from aabigan.provenance import cpu_model
        info.update(name=cpu_model(), spec_peak_tflops=None)
    return info


def matmul_peak(device: torch.device, n: int) -> dict:
    """TFLOP/s of an n x n matmul in fp32 (TF32 off), tf32 and bf16: what the device reaches on dense work."""
    out = {}
    old = torch.backends.cuda.matmul.allow_tf32
    try:
        for name, dtype, tf32 in (("fp32", torch.float32, False), ("tf32", torch.float32, True),
                                  ("bf16", torch.bfloat16, False)):
            if device.type == "cpu" and name == "tf32":
                continue
            torch.backends.cuda.matmul.allow_tf32 = tf32
            a = torch.randn(n, n, device=device, dtype=dtype)
            b = torch.randn(n, n, device=device, dtype=dtype)
            for _ in range(2):
                a @ b
            sync(device)
            reps, t = 0, time.perf_counter()
            while reps < 3 or time.perf_counter() - t < 0.5:
                a @ b
                reps += 1
                sync(device)
            out[name] = round(2 * n**3 * reps / (time.perf_counter() - t) / 1e12, 3)
            del a, b
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    return out


# ------------------------------------------------------------------------------------------- timing
def _nets(arch: str, shape, width: int, runs: int, stacked: bool, device: torch.device):
    nets = [build_networks(shape, arch=arch, width=width, dropout=0.0) for _ in range(runs)]
    return (stack_networks(nets) if stacked else nets[0]).to(device)


def _data(shape, runs: int, n: int, m: int, stacked: bool, device: torch.device):
    lead = (runs,) if stacked else ()
    g = torch.Generator().manual_seed(0)
    return (torch.rand(*lead, n, *shape, generator=g).to(device), torch.rand(*lead, m, *shape, generator=g).to(device))


def count_flops(arch, shape, width, batch, neg_batch, runs, stacked, device) -> float:
    """FLOPs of one training step (D/D' step and G/E step, forward and backward) by torch's flop counter."""
    from torch.utils.flop_counter import FlopCounterMode

    nets = _nets(arch, shape, width, runs, stacked, device)
    X, Xn = _data(shape, runs, batch, neg_batch, stacked, device)
    gens = [torch.Generator().manual_seed(r) for r in range(runs)] if stacked else torch.Generator().manual_seed(0)
    cfg = TrainConfig(objective="aa", epochs=1, batch_size=batch, neg_batch_size=neg_batch)
    with FlopCounterMode(display=False) as fc:
        train(nets, X, Xn, cfg, gens)
    return float(fc.get_total_flops())


def time_steps(arch, shape, width, batch, neg_batch, runs, stacked, device, warmup, steps, amp=False,
               compile=False) -> dict:
    """Median seconds of one training step (``runs`` runs stacked, or one run alone), images/s, peak memory.

    Synthetic data on the device; ``train`` as the runner calls it, so the per-run random draws on the host are
    part of the step.  Warm-up epoch of ``warmup`` steps, then epochs of ``steps`` steps timed one by one."""
    nets = _nets(arch, shape, width, runs, stacked, device)
    n = batch * max(warmup, steps)
    X, Xn = _data(shape, runs, n, 2 * neg_batch, stacked, device)
    gens = [torch.Generator().manual_seed(r) for r in range(runs)] if stacked else torch.Generator().manual_seed(0)
    cfg = TrainConfig(objective="aa", epochs=2, batch_size=batch, neg_batch_size=neg_batch, amp=amp, compile=compile)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    stamps = []

    def on_epoch(epoch, state):
        sync(device)
        stamps.append(time.perf_counter())

    sync(device)
    stamps.append(time.perf_counter())
    train(nets, X, Xn, cfg, gens, on_epoch_end=on_epoch)
    per_step = (stamps[2] - stamps[1]) / (n // batch)
    out = {"step_s": per_step, "images_per_s": (runs if stacked else 1) * (batch + neg_batch) / per_step,
           "first_epoch_s": stamps[1] - stamps[0]}
    if device.type == "cuda":
        out["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    del nets, X, Xn
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def step_times(device, s: dict, archs, budget: float, peak: dict | None) -> dict:
    """Single against stacked step times at every R, per architecture; FLOPs and TFLOP/s beside them."""
    report = {}
    for arch in archs:
        shape = ARCH_SHAPES[arch]
        kw = dict(arch=arch, shape=shape, width=s["width"], batch=s["batch"], neg_batch=s["neg_batch"], device=device)
        rep = {"shape": list(shape), "width": s["width"], "batch": s["batch"], "neg_batch": s["neg_batch"], "runs": {}}
        try:
            rep["flops_per_step_single"] = count_flops(runs=1, stacked=False, **kw)
            single = time_steps(runs=1, stacked=False, warmup=s["warmup"], steps=s["steps"], **kw)
        except Exception as exc:          # noqa: BLE001 - reported, the other sections still run
            rep["error"] = f"{type(exc).__name__}: {exc}"
            say(arch, "single run failed:", rep["error"])
            report[arch] = rep
            continue
        rep["single"] = single
        tflops = rep["flops_per_step_single"] / single["step_s"] / 1e12
        rep["single"]["achieved_tflops"] = round(tflops, 3)
        say(f"{arch} single: {1000 * single['step_s']:.2f} ms/step, {single['images_per_s']:.0f} images/s, "
            f"{rep['flops_per_step_single'] / 1e9:.1f} GFLOP/step, {tflops:.2f} TFLOP/s")
        for R in s["runs"]:
            if left(budget) < 30 + 2 * s["steps"] * single["step_s"] * R:
                rep["runs"][str(R)] = {"skipped": "not enough time left"}
                say(arch, f"R={R}: skipped (time)")
                continue
            try:
                t = time_steps(runs=R, stacked=True, warmup=s["warmup"], steps=s["steps"], **kw)
                # a stack does R runs' work: R times one run's count.  (torch's counter, asked about the stack
                # itself, over-counts: its formula for a convolution's backward ignores the groups)
                flops = R * rep["flops_per_step_single"]
                t["flops_per_step"] = flops
                t["achieved_tflops"] = round(flops / t["step_s"] / 1e12, 3)
                t["speedup_vs_R_single_steps"] = round(R * single["step_s"] / t["step_s"], 3)
                if peak:
                    t["fraction_of_peak"] = {k: (round(t["achieved_tflops"] / v, 4) if v else None)
                                             for k, v in peak.items()}
                rep["runs"][str(R)] = t
                say(f"{arch} R={R}: {1000 * t['step_s']:.1f} ms/step ({1000 * t['step_s'] / R:.2f} ms per run), "
                    f"speed-up {t['speedup_vs_R_single_steps']:.2f}x over {R} single steps, "
                    f"{t['achieved_tflops']:.2f} TFLOP/s, peak {t.get('peak_mem_gib', 'n/a')} GiB")
            except Exception as exc:      # noqa: BLE001 - out of memory at a large R must not end the check
                rep["runs"][str(R)] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                say(arch, f"R={R}: {rep['runs'][str(R)]['error']}")
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        if s["runs"][-1] > 1 and left(budget) > 60:
            try:          # mixed precision (bfloat16 forward passes) at one stack size
                R = min(10, s["runs"][-1])
                t = time_steps(runs=R, stacked=True, warmup=s["warmup"], steps=s["steps"], amp=True, **kw)
                t["achieved_tflops"] = round(R * rep["flops_per_step_single"] / t["step_s"] / 1e12, 3)
                rep["amp_bf16"] = {"runs": R, **t}
                say(f"{arch} R={R} bf16 autocast: {1000 * t['step_s']:.1f} ms/step")
            except Exception as exc:      # noqa: BLE001
                rep["amp_bf16"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        if s["compile"] and left(budget) > 300:    # only when the result rows keep minutes after it
            try:          # torch.compile of the training forward passes at the same stack size; the first
                R = min(10, s["runs"][-1])   # (warm-up) epoch holds the compilation
                t = time_steps(runs=R, stacked=R > 1, warmup=s["warmup"], steps=s["steps"], compile=True, **kw)
                t["achieved_tflops"] = round(R * rep["flops_per_step_single"] / t["step_s"] / 1e12, 3)
                rep["compile"] = {"runs": R, **t}
                say(f"{arch} R={R} torch.compile: {1000 * t['step_s']:.1f} ms/step "
                    f"(first epoch, with the compilation, {t['first_epoch_s']:.1f} s)")
            except Exception as exc:      # noqa: BLE001
                rep["compile"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                say(arch, "torch.compile:", rep["compile"]["error"])
        report[arch] = rep
    return report


# --------------------------------------------------------------------------------------- result rows
class _OutOfTime(Exception):
    pass


def _alarm(signum, frame):
    raise _OutOfTime()


def _stack_seconds(step_report: dict, arch: str, R: int) -> float | None:
    """Seconds of one stacked step of R runs, interpolated in R between the measured stack sizes."""
    rep = step_report.get(arch, {})
    pts = sorted((int(r), v["step_s"]) for r, v in rep.get("runs", {}).items() if "step_s" in v)
    if "single" in rep:
        pts = sorted(set(pts) | {(1, rep["single"]["step_s"])})
    if not pts:
        return None
    for (r0, t0), (r1, t1) in zip(pts, pts[1:]):
        if r0 <= R <= r1:
            return t0 + (t1 - t0) * (R - r0) / (r1 - r0)
    r, t = pts[-1] if R > pts[-1][0] else pts[0]
    return t * R / r if R > r else t


def result_rows(s: dict, out: Path, step_report: dict, budget: float) -> dict:
    """Table 1's MNIST gamma_l = 0.05 cell under ``s['profile']``: as many pairs as fit, each normal class's
    pairs as one stack, rows appended to ``out`` (resumable, as the runner writes them)."""
    from aabigan import experiments as ex
    from aabigan.detector import fit_stacked
    from aabigan.store import RUN_SCHEMA, ResultsFile

    cfgs = [c for c in ex.grid("table1", s["profile"], datasets=["mnist"], pairs=s["pairs"]) if c.gamma_l == 0.05]
    rep = {"profile": s["profile"], "cell": "mnist gamma_l=0.05", "configs": len(cfgs), "stacks": []}
    settings = cfgs[0].params()
    arch = settings.get("arch", "dcgan")
    rep["settings"] = settings
    by_normal: dict[int, list] = {}
    for c in cfgs:
        by_normal.setdefault(c.normal_class, []).append(c)
    with ResultsFile(out, RUN_SCHEMA) as store:
        todo = {c.hash for c in ex.pending(cfgs, store.rows)}
        for normal, group in by_normal.items():
            group = [c for c in group if c.hash in todo]
            if not group:
                continue
            try:
                prepared = [ex._split(c) for c in group]
            except Exception as exc:      # noqa: BLE001 - no data on this machine
                rep["skipped"] = f"{type(exc).__name__}: {exc}"[:400]
                say("rows: skipped:", rep["skipped"])
                break
            model = ex._build(group[0])
            steps = model._train_config().total_steps(prepared[0][0].info["n_normal"])
            R = len(group)
            t_step = _stack_seconds(step_report, arch, R)
            # per-epoch scoring of the validation and test splits costs about half the training again
            estimate = None if t_step is None else 1.5 * steps * t_step + 20
            if estimate is not None and estimate > left(budget) - 15:
                while R > 1 and 1.5 * steps * _stack_seconds(step_report, arch, R) + 20 > left(budget) - 15:
                    R -= 1
                group, prepared = group[:R], prepared[:R]
                estimate = 1.5 * steps * _stack_seconds(step_report, arch, R) + 20
                if estimate > left(budget) - 15:
                    rep["stacks"].append({"normal_class": normal, "skipped": f"needs about {estimate:.0f} s for "
                                          f"{steps} steps; {left(budget):.0f} s left"})
                    say(f"rows: normal class {normal}: needs ~{estimate:.0f} s, {left(budget):.0f} s left: stop")
                    break
            say(f"rows: normal class {normal}: {R} pairs stacked, {steps} steps, estimate "
                f"{'?' if estimate is None else f'{estimate:.0f} s'}")
            models = [ex._build(c) for c in group]
            t = time.perf_counter()
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(max(1, int(left(budget) - 10)))
            try:
                tests = [ex._test_callback(sp, per_epoch=True) for sp, _, _ in prepared]   # test scores per epoch
                data = [(X, y, (sp.X_val, sp.y_val), (t,)) for (sp, X, y), t in zip(prepared, tests)]
                fit_stacked(models, data) if len(models) > 1 else models[0].fit(*data[0])
                signal.alarm(0)
            except _OutOfTime:
                rep["stacks"].append({"normal_class": normal, "runs": R, "stopped": "out of time"})
                say(f"rows: normal class {normal}: stopped, out of time")
                break
            finally:
                signal.alarm(0)
            seconds = time.perf_counter() - t
            for c, m, (sp, _, _), t in zip(group, models, prepared, tests):
                store.append(ex._rows(c, m, sp, m.fit_seconds_, t.record))
            auc = [float(t.record[m.history_[-1]["epoch"]]["latent"][0]) for m, t in zip(models, tests)]
            rep["stacks"].append({"normal_class": normal, "runs": R, "steps": steps, "seconds": round(seconds, 1),
                                  "estimate_s": estimate, "device": models[0].device_.type,
                                  "last_latent_test_auroc": [round(a, 4) for a in auc]})
            say(f"rows: normal class {normal}: {R} runs in {seconds:.1f} s")
            if s["pairs"] is None and left(budget) < 30:
                break
    rep["rows_file"] = out.name
    return rep


# -------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for gpu-report.json and gpu-rows.csv")
    ap.add_argument("--tiny", action="store_true", help="R = 1, 2, tiny widths and batches, 2 steps (a CPU test)")
    ap.add_argument("--budget-s", type=float, default=None, help="seconds for the whole check (450; tiny: 120)")
    ap.add_argument("--device", default=None, help="cuda (default when present) or cpu")
    ap.add_argument("--archs", default="dcgan,authors", help="architectures to time, comma-separated")
    ap.add_argument("--runs", default=None, help="stack sizes R to time, e.g. 1,10,45,90")
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--neg-batch", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None, help="timed steps per measurement")
    ap.add_argument("--no-rows", action="store_true", help="time only; train no result rows")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                    help="also time torch.compile at R = 10 (default: on, off with --tiny)")
    args = ap.parse_args(argv)
    global T0
    T0 = time.perf_counter()          # the budget counts from here
    s = dict(SETTINGS["tiny" if args.tiny else "full"])
    for k in ("width", "batch", "neg_batch", "steps"):
        if getattr(args, k) is not None:
            s[k] = getattr(args, k)
    if args.runs:
        s["runs"] = tuple(int(r) for r in args.runs.split(","))
    if args.compile is not None:
        s["compile"] = args.compile
    budget = args.budget_s if args.budget_s is not None else (120.0 if args.tiny else 450.0)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"setting": "tiny" if args.tiny else "full", "budget_s": budget,
                    "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()}}
    report_path = out / "gpu-report.json"

    def dump():
        report["elapsed_s"] = round(time.perf_counter() - T0, 1)
        report_path.write_text(json.dumps(report, indent=2, default=str))

    try:
        report["device"] = info = device_info(device)
        say("device:", json.dumps(info))
        n = s["matmul_n"] if device.type == "cuda" else min(1024, s["matmul_n"])
        report["matmul_tflops"] = matmul_peak(device, n)
        say("matmul TFLOP/s:", report["matmul_tflops"])
        dump()
        peak = info.get("spec_peak_tflops") or report["matmul_tflops"]
        report["peak_used"] = "spec sheet (dense)" if info.get("spec_peak_tflops") else "measured matmul"
        report["step_times"] = step_times(device, s, [a for a in args.archs.split(",") if a], budget, peak)
        dump()
        if not args.no_rows:
            report["rows"] = result_rows(s, out / "gpu-rows.csv", report["step_times"], budget)
    except Exception as exc:              # noqa: BLE001 - whatever happened, the report is written
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc()[-3000:]
        say("error:", report["error"])
    dump()
    say("report written to", report_path)
    return 1 if "error" in report else 0


if __name__ == "__main__":
    sys.exit(main())
