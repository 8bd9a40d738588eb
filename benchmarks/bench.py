"""Speed and memory of AA-BiGAN training, one command:

    python benchmarks/bench.py                # writes benchmarks/report.json and benchmarks/report.md
    python benchmarks/bench.py --quick        # a shorter run (fewer repeats, smaller grid)

Measures, on the CPU (and on a GPU when one is present):
1. throughput (samples/s) and peak memory of one AA-BiGAN step and one epoch, per model family;
2. the cost of AA-BiGAN over the same network trained without the anomaly terms (no collected anomalies);
3. how the cost of an epoch grows with the number of training samples and with the batch size;
4. stacked training (R seeds in one pass) against one run at a time, on the whole tabular AA-BiGAN grid,
   and the grid runner with stacks on one-thread worker processes (one per core)
   (the six ODDS cells x 10 seeds with the cpu profile's schedule divided by --grid-scale, so each config
   keeps its share of the grid's steps; both measured here, in this run, dataset by dataset).
Timings are wall-clock medians over repeats, with torch using the number of threads given by --threads.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aabigan import __version__  # noqa: E402
from aabigan.experiments import RunConfig, grid, run_grid, run_one, run_stacked  # noqa: E402
from aabigan.provenance import cpu_model  # noqa: E402
from aabigan.nets import build_networks  # noqa: E402
from aabigan.profiles import get_profile  # noqa: E402
from aabigan.trainer import TrainConfig, train  # noqa: E402

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_epochs(shape, n, m, batch, device, epochs=2, repeats=3, objective="aa", width=64, stack=1):
    """Median seconds of one epoch (after a warm-up epoch) and the peak memory, for synthetic data."""
    from aabigan.stacked import stack_networks

    g = torch.Generator().manual_seed(0)
    lead = (stack,) if stack > 1 else ()
    X = torch.rand(*lead, n, *shape, generator=g).to(device)
    Xn = torch.rand(*lead, m, *shape, generator=g).to(device) if m else None
    cfg = TrainConfig(objective=objective, epochs=epochs, batch_size=batch)
    times = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rss0 = _rss_mb()
    for _ in range(repeats):
        nets = [build_networks(shape, width=width) for _ in range(stack)]
        nets = stack_networks(nets) if stack > 1 else nets[0]
        nets.to(device)
        gens = [torch.Generator().manual_seed(r) for r in range(stack)] if stack > 1 else torch.Generator().manual_seed(0)
        stamps = []

        def on_epoch(e, st):
            _sync(device)
            stamps.append(time.perf_counter())

        _sync(device)
        t0 = time.perf_counter()
        train(nets, X, Xn, cfg, gens, on_epoch_end=on_epoch)
        stamps = [t0] + stamps
        times.append(statistics.median(np.diff(stamps[1:])) if len(stamps) > 2 else stamps[1] - stamps[0])
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else max(0.0, _rss_mb() - rss0))
    sec = statistics.median(times)
    steps = max(1, n // min(batch, n))
    return {"epoch_s": sec, "step_ms": 1000 * sec / steps, "samples_per_s": stack * steps * min(batch, n) / sec,
            "peak_mb": round(peak, 1)}


def families(device, quick):
    fam = {"mlp": dict(shape=(21,), n=4096, m=41, batch=128, width=64),
           "dcgan": dict(shape=(3, 32, 32), n=256 if quick or device.type == "cpu" else 6000, m=13, batch=64,
                         width=64)}
    out = {}
    for name, f in fam.items():
        kw = dict(shape=f["shape"], n=f["n"], batch=f["batch"], device=device, width=f["width"],
                  repeats=1 if quick else 3)
        aa = time_epochs(m=f["m"], **kw)
        plain = time_epochs(m=0, **kw)
        out[name] = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in f.items()},
                     "aa": aa, "without_anomalies": plain, "aa_over_plain": aa["epoch_s"] / plain["epoch_s"]}
        print(name, json.dumps(out[name]), flush=True)
    return out


def scaling(device, quick):
    ns = [1024, 4096, 16384] if not quick else [1024, 4096]
    batches = [32, 128, 512]
    out = {"n": [], "batch": []}
    for n in ns:
        r = time_epochs((21,), n, int(0.01 * n), 128, device, repeats=1 if quick else 2)
        out["n"].append({"n": n, **r})
    for b in batches:
        r = time_epochs((21,), 4096, 41, b, device, repeats=1 if quick else 2)
        out["batch"].append({"batch": b, **r})
    print("scaling", json.dumps(out), flush=True)
    return out


def stacked_grid(quick, scale, workers=1):
    """The whole tabular AA-BiGAN grid, one at a time vs stacked: the cpu profile's configs with its schedule
    (epochs, min_steps) divided by ``scale``, so every config keeps its share of the grid's steps."""
    prof = get_profile("cpu").tabular
    over = (("epochs", max(1, prof["epochs"] // scale)), ("min_steps", prof["min_steps"] // scale))
    configs = [RunConfig(c.dataset, c.method, c.normal_class, c.known_classes, c.gamma_l, c.gamma_p, c.seed,
                         c.profile, over) for c in grid("table2", "cpu", methods=["aabigan"])]
    if quick:
        configs = [c for c in configs if c.dataset in ("thyroid", "cardio")]
    by_cell: dict = {}
    for c in configs:
        by_cell.setdefault(c.dataset, []).append(c)
    single, stacked, per_ds = [], [], {}
    for ds, cell in by_cell.items():       # per dataset: one at a time, then the same configs stacked
        t0 = time.perf_counter()
        single += [run_one(c) for c in cell]
        t1 = time.perf_counter()
        stacked += run_stacked(cell)
        t2 = time.perf_counter()
        per_ds[ds] = {"one_at_a_time_s": t1 - t0, "stacked_s": t2 - t1, "speedup": (t1 - t0) / (t2 - t1)}
        print("stacked", ds, json.dumps(per_ds[ds]), flush=True)
    t_single = sum(v["one_at_a_time_s"] for v in per_ds.values())
    t_stacked = sum(v["stacked_s"] for v in per_ds.values())
    parallel = None
    if workers > 1:   # the grid runner itself: stacks of 10 on `workers` processes of one thread each
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            counts = run_grid(configs, Path(tmp) / "rows.csv", progress=False, stack=10, workers=workers, threads=1)
            t_par = time.perf_counter() - t0
        parallel = {"workers": workers, "threads_per_worker": 1, "seconds": t_par, "speedup": t_single / t_par,
                    "all_ok": counts["failed"] == 0}
        print("parallel", json.dumps(parallel), flush=True)
    ok = all(r[0]["status"] == "ok" for r in single + stacked)
    out = {"configs": len(configs), "scale": scale, "schedule": dict(over), "one_at_a_time_s": t_single,
           "stacked_s": t_stacked, "speedup": t_single / t_stacked, "all_ok": ok, "per_dataset": per_ds, "parallel": parallel,
           "auroc_val_auto_mean_single": float(np.mean([float(r[2]["auroc"]) for r in single])),
           "auroc_val_auto_mean_stacked": float(np.mean([float(r[2]["auroc"]) for r in stacked]))}
    print("stacked", json.dumps(out), flush=True)
    return out


def to_markdown(rep) -> str:
    lines = ["# Benchmark report", "", f"- hardware: {rep['hardware']}", f"- torch {rep['torch']}, "
             f"aabigan {rep['aabigan']}, threads {rep['threads']}, date {rep['date']}",
             f"- load average (1, 5, 15 min) at start {rep['load_average_at_start']}, at end "
             f"{rep['load_average_at_end']}: other work shared the machine when these exceed ~1", ""]
    for dev, res in rep["devices"].items():
        lines += [f"## {dev}", "", "| family | epoch s (AA) | step ms (AA) | samples/s (AA) | peak MB | "
                  "epoch s (no anomalies) | AA / none |", "|---|---|---|---|---|---|---|"]
        for fam, r in res["families"].items():
            lines.append(f"| {fam} | {r['aa']['epoch_s']:.3f} | {r['aa']['step_ms']:.1f} | "
                         f"{r['aa']['samples_per_s']:.0f} | {r['aa']['peak_mb']} | "
                         f"{r['without_anomalies']['epoch_s']:.3f} | {r['aa_over_plain']:.3f} |")
        lines += ["", "| n samples | epoch s |", "|---|---|"]
        lines += [f"| {r['n']} | {r['epoch_s']:.3f} |" for r in res["scaling"]["n"]]
        lines += ["", "| batch | epoch s | samples/s |", "|---|---|---|"]
        lines += [f"| {r['batch']} | {r['epoch_s']:.3f} | {r['samples_per_s']:.0f} |" for r in res["scaling"]["batch"]]
        lines.append("")
    for s in rep.get("stacked_grid", []):
        sched = s["schedule"]
        lines += [f"## Stacked training, the whole tabular AA-BiGAN grid, {s['threads']} thread(s)", "",
                  f"{s['configs']} configs ({len(s['per_dataset'])} ODDS datasets x 10 seeds), the cpu profile's "
                  f"schedule divided by {s['scale']} ({sched['epochs']} epochs, at least {sched['min_steps']} steps): one at a time "
                  f"{s['one_at_a_time_s']:.1f} s, stacked {s['stacked_s']:.1f} s, speed-up {s['speedup']:.2f}x; "
                  f"mean val/auto AUROC {s['auroc_val_auto_mean_single']:.3f} vs {s['auroc_val_auto_mean_stacked']:.3f}.",
                  "", "| dataset | one at a time s | stacked s | speed-up |", "|---|---|---|---|"]
        lines += [f"| {ds} | {v['one_at_a_time_s']:.1f} | {v['stacked_s']:.1f} | {v['speedup']:.2f}x |"
                  for ds, v in s["per_dataset"].items()]
        par = s.get("parallel")
        if par:
            lines += ["", f"The grid runner, stacks of 10 on {par['workers']} worker processes of "
                          f"{par['threads_per_worker']} thread: {par['seconds']:.1f} s, {par['speedup']:.2f}x the "
                          "one-at-a-time time above."]
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--grid-scale", type=int, default=10,
                    help="divide the cpu profile's epochs and min_steps by this for the grid (default 10)")
    ap.add_argument("--out", default=str(HERE / "report"))
    ap.add_argument("--grid-threads", default=None,
                    help="comma-separated torch thread counts for the grid comparison (default: --threads)")
    ap.add_argument("--grid-workers", type=int, default=os.cpu_count() or 1,
                    help="also time the grid runner with this many one-thread worker processes (default: the cores)")
    ap.add_argument("--skip-grid", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("AABIGAN_DATA", str(HERE.parents[1] / "shared" / "data"))
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rep = {"hardware": f"{cpu_model()}, {os.cpu_count()} cores"
                       + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""),
           "torch": torch.__version__, "aabigan": __version__, "threads": args.threads,
           "load_average_at_start": list(os.getloadavg()),
           "date": time.strftime("%Y-%m-%d"), "devices": {}}
    for dev in devices:
        rep["devices"][dev.type] = {"families": families(dev, args.quick), "scaling": scaling(dev, args.quick)}
    if not args.skip_grid:
        rep["stacked_grid"] = []
        for n in [int(t) for t in (args.grid_threads or str(args.threads)).split(",")]:
            torch.set_num_threads(n)
            rep["stacked_grid"].append({"threads": n, **stacked_grid(args.quick, args.grid_scale,
                                                                      args.grid_workers if n == 1 else 1)})
        torch.set_num_threads(args.threads)
    rep["load_average_at_end"] = list(os.getloadavg())
    Path(args.out + ".json").write_text(json.dumps(rep, indent=1))
    Path(args.out + ".md").write_text(to_markdown(rep))
    print(to_markdown(rep))


if __name__ == "__main__":
    main()
