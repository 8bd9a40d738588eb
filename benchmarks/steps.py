"""Step-time ratios on the CPU (issue 17), each pair of things compared interleaved in one process:

    python benchmarks/steps.py                      # writes benchmarks/report-steps.json and report-steps.md
    python benchmarks/steps.py --repeats 3 --out /tmp/steps   # shorter

One thread (``torch.set_num_threads(1)``), and the two things compared alternate step by step, so load from
other work on the machine slows both alike; the ratios are medians of the per-pair ratios.  It measures:

1. **our step against the authors' step** on the authors' MNIST / F-MNIST networks (``arch="authors"``,
   1x32x32, width 64, latent 100, no dropout), batch 200 normals + 50 collected anomalies, their Adam
   settings (betas (0.5, 0.9); lr 1e-4 for G and E, 2.5e-5 for D and D') and their 1/3 weight on the D' terms;
2. **the GPU switches on this CPU**, each against our plain step on the same networks: ``amp`` (bfloat16
   autocast) and ``compile`` (``torch.compile`` of the training forward passes; its compilation is timed
   apart and left out of the step ratio);
3. **stacked against one-at-a-time image runs**: R runs as one stacked model (:mod:`aabigan.stacked`)
   against the same R runs stepped one after the other, for DCGAN width 16 (3x32x32) and for the authors'
   networks.

The authors' step is rebuilt here, in the benchmarks only, from the layer and loss facts of
``../shared/paper/reference-code-notes.md`` (no code of theirs is copied): least-squares terms, each a batch
mean; D and D' trained by one Adam, G and E by two separate Adams; the encoder run on normals and anomalies
separately; and the G/E step recomputing every forward pass after the D step (the reordering current
PyTorch needs: their torch-1.1 code stepped D between computing and back-propagating the G/E loss), with
the discriminators' weights still taking gradients, as nothing in their step switches them off.  Our step
(:func:`aabigan.trainer.train`) computes E(x), G(z) and G(E(x)) once for both updates, runs the encoder on
normals and anomalies in one pass, and freezes D and D' during the G/E update.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aabigan import __version__  # noqa: E402
from aabigan.provenance import cpu_model  # noqa: E402
from aabigan.nets import build_networks  # noqa: E402
from aabigan.stacked import stack_networks  # noqa: E402
from aabigan.trainer import TrainConfig, cpu_has_native_bf16, train  # noqa: E402

HERE = Path(__file__).resolve().parent
BATCH, NEG = 200, 50
AUTHORS = dict(arch="authors", shape=(1, 32, 32), width=64)


def _mse(out: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(out, torch.full_like(out, target))


class AuthorsStep:
    """One training step as the authors' code takes it (rebuilt from the notes; see the module docstring)."""

    def __init__(self, nets):
        self.nets = nets
        E, G, D, Dp = nets.encoder, nets.generator, nets.joint_disc, nets.pair_disc
        self.opt_e = torch.optim.Adam(E.parameters(), lr=1e-4, betas=(0.5, 0.9))
        self.opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
        self.opt_d = torch.optim.Adam(list(D.parameters()) + list(Dp.parameters()), lr=2.5e-5, betas=(0.5, 0.9))

    def __call__(self, x, xn, z):
        E, G, D, Dp = self.nets.encoder, self.nets.generator, self.nets.joint_disc, self.nets.pair_disc
        # D and D': x+ -> 1, G(z) -> 0, x- -> 0.5 (and the same targets for the image pairs)
        e_pos, e_neg, x_fake = E(x).detach(), E(xn).detach(), G(z).detach()
        x_rec = G(E(x)).detach()
        loss_d = (_mse(D(x, e_pos), 1) + _mse(D(x_fake, z), 0) + _mse(D(xn, e_neg), 0.5)
                  + _mse(Dp(x, x), 1) + _mse(Dp(x, x_rec), 0) + _mse(Dp(xn, xn), 0.5))
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        # G and E, every forward pass recomputed: all D terms -> 0.75, the D' terms weighted 1/3
        e_pos, e_neg, x_fake = E(x), E(xn), G(z)
        x_rec = G(e_pos)
        loss_ge = (_mse(D(x, e_pos), 0.75) + _mse(D(x_fake, z), 0.75) + _mse(D(xn, e_neg), 0.75)
                   + (_mse(Dp(x, x), 0.75) + _mse(Dp(x, x_rec), 0.75) + _mse(Dp(xn, xn), 0.75)) / 3)
        self.opt_g.zero_grad()
        self.opt_e.zero_grad()
        loss_ge.backward()
        self.opt_g.step()
        self.opt_e.step()
        return float(loss_d.detach()), float(loss_ge.detach())


def _nets(arch, shape, width, runs=1, seed=0):
    torch.manual_seed(seed)
    nets = [build_networks(shape, width=width, arch=arch, dropout=0.0) for _ in range(runs)]
    return stack_networks(nets) if runs > 1 else nets[0]


def _data(shape, runs=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    lead = (runs,) if runs > 1 else ()
    return torch.rand(*lead, BATCH, *shape, generator=g), torch.rand(*lead, NEG, *shape, generator=g)


def _ours(nets, X, Xn, gens, **flags):
    """A function taking one step of our trainer (a one-epoch ``train`` over exactly one batch)."""
    cfg = TrainConfig(objective="aa", epochs=1, batch_size=BATCH, neg_batch_size=NEG, betas=(0.5, 0.9),
                      recon_weight=1 / 3, **flags)
    return lambda: train(nets, X, Xn, cfg, gens)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(first, second, repeats: int, label: str) -> dict:
    """Alternate ``first`` and ``second`` (one warm-up call each), ``repeats`` timed pairs, order swapped
    every pair; the median seconds of each and the median of the per-pair ratios first / second."""
    warm = [_timed(first), _timed(second)]
    a, b = [], []
    for i in range(repeats):
        if i % 2:
            b.append(_timed(second))
            a.append(_timed(first))
        else:
            a.append(_timed(first))
            b.append(_timed(second))
        print(f"  {label} pair {i + 1}: {a[-1]:.3f} s vs {b[-1]:.3f} s", flush=True)
    ratios = [x / y for x, y in zip(a, b)]
    return {"first_s": statistics.median(a), "second_s": statistics.median(b), "ratio": statistics.median(ratios),
            "ratio_min": min(ratios), "ratio_max": max(ratios), "repeats": repeats, "warmup_s": warm,
            "load_average": list(os.getloadavg())}


def ours_vs_authors(repeats: int, compile_: bool) -> dict:
    shape = AUTHORS["shape"]
    ours_nets, their_nets = _nets(**AUTHORS), _nets(**AUTHORS)
    X, Xn = _data(shape)
    theirs = AuthorsStep(their_nets)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(BATCH, ours_nets.latent_dim, generator=g)
    r = interleaved(_ours(ours_nets, X, Xn, torch.Generator().manual_seed(0)), lambda: theirs(X, Xn, z),
                    repeats, "ours vs authors")
    out = {"what": "our step / the authors' step, their MNIST networks, 1x32x32, batch 200 + 50",
           "ours_s": r.pop("first_s"), "authors_s": r.pop("second_s"), **r, "with_switch": {}}
    for name in ("amp", "compile") if compile_ else ("amp",):   # our step with a switch on, against theirs
        flagged = _ours(_nets(**AUTHORS), X, Xn, torch.Generator().manual_seed(0), **{name: True})
        torch._dynamo.reset()      # compile from scratch (the warm-up call holds the compilation)
        try:
            r = interleaved(flagged, lambda: theirs(X, Xn, z), repeats, f"ours ({name}) vs authors")
        except Exception as exc:   # noqa: BLE001 - reported
            out["with_switch"][name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            continue
        out["with_switch"][name] = {"ours_s": r.pop("first_s"), "authors_s": r.pop("second_s"), **r}
    return out


def switches(repeats: int, compile_: bool) -> dict:
    """amp and compile, each against the plain step, on the authors' networks."""
    shape = AUTHORS["shape"]
    X, Xn = _data(shape)
    out = {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "native_bf16": cpu_has_native_bf16()}
    flags = [("amp", dict(amp=True))] + ([("compile", dict(compile=True))] if compile_ else [])
    for name, kw in flags:
        flagged = _ours(_nets(**AUTHORS), X, Xn, torch.Generator().manual_seed(0), **kw)
        plain = _ours(_nets(**AUTHORS), X, Xn, torch.Generator().manual_seed(0))
        entry = {}
        if name == "compile":      # the first call compiles (from scratch: dynamo reset); time it apart
            torch._dynamo.reset()
            entry["first_call_s"] = _timed(flagged)
            print(f"  compile: first call (compilation) {entry['first_call_s']:.1f} s", flush=True)
        try:
            r = interleaved(flagged, plain, repeats, name)
        except Exception as exc:   # noqa: BLE001 - reported
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            continue
        out[name] = {**entry, "flag_s": r.pop("first_s"), "plain_s": r.pop("second_s"), **r}
    return out


def stacking(repeats: int, runs_dcgan: int, runs_authors: int) -> dict:
    out = {}
    for label, arch, shape, width, runs in (("dcgan-w16", "dcgan", (3, 32, 32), 16, runs_dcgan),
                                            ("authors", "authors", (1, 32, 32), 64, runs_authors)):
        singles = [_nets(arch, shape, width, seed=r) for r in range(runs)]
        stacked = _nets(arch, shape, width, runs=runs)
        X, Xn = _data(shape, runs)
        steps = [_ours(singles[r], X[r], Xn[r], torch.Generator().manual_seed(r)) for r in range(runs)]
        stack = _ours(stacked, X, Xn, [torch.Generator().manual_seed(r) for r in range(runs)])
        r = interleaved(stack, lambda: [s() for s in steps], repeats, f"{label} R={runs}")
        out[label] = {"arch": arch, "shape": list(shape), "width": width, "runs": runs,
                      "stacked_s": r.pop("first_s"), "one_at_a_time_s": r.pop("second_s"), **r}
    return out


def to_markdown(rep: dict) -> str:
    lines = ["# Step-time ratios on the CPU (issue 17)", "",
             f"- hardware: {rep['hardware']}; torch {rep['torch']}, aabigan {rep['aabigan']}, 1 thread, "
             f"date {rep['date']}",
             f"- load average at start {rep['load_average_at_start']}, at end {rep['load_average_at_end']} "
             "(other work shared the machine; each comparison is interleaved, so it slowed both sides alike)",
             "- every time is the median of the interleaved timed steps after a warm-up; a ratio is the median "
             "of the per-pair ratios (their range in brackets)", ""]
    a = rep.get("ours_vs_authors")
    if a:
        lines += ["## Our step against the authors' step", "",
                  f"The authors' MNIST / F-MNIST networks (1x32x32, width 64, no dropout), batch {BATCH} + {NEG}, "
                  f"{a['repeats']} pairs: ours {a['ours_s']:.3f} s, theirs (rebuilt, see the script) "
                  f"{a['authors_s']:.3f} s, ratio **{a['ratio']:.2f}x** [{a['ratio_min']:.2f}-{a['ratio_max']:.2f}]; "
                  "the goal is at most 0.5x.", ""]
        for name, w in a.get("with_switch", {}).items():
            lines.append(f"- ours with `{name}=True` against their (float32, uncompiled) step: "
                         + (f"failed: {w['error']}" if "error" in w else
                            f"{w['ours_s']:.3f} s vs {w['authors_s']:.3f} s, **{w['ratio']:.2f}x** "
                            f"[{w['ratio_min']:.2f}-{w['ratio_max']:.2f}]"))
        lines.append("")
    sw = rep.get("switches")
    if sw:
        lines += ["## The GPU switches on this CPU", "",
                  f"The authors' networks as above; CPU capability {sw['cpu_capability']}, native bfloat16: "
                  f"{sw['native_bf16']}.", "",
                  "| switch | step s with it | plain step s | with / plain | note |", "|---|---|---|---|---|"]
        for name in ("amp", "compile"):
            s = sw.get(name)
            if s is None:
                lines.append(f"| {name} | not measured | | | |")
            elif "error" in s:
                lines.append(f"| {name} | failed | | | {s['error']} |")
            else:
                note = (f"first call (compilation; inductor's on-disk cache may be warm) {s['first_call_s']:.1f} s"
                        if "first_call_s" in s else "")
                lines.append(f"| {name} | {s['flag_s']:.3f} | {s['plain_s']:.3f} | {s['ratio']:.2f}x "
                             f"[{s['ratio_min']:.2f}-{s['ratio_max']:.2f}] | {note} |")
        lines.append("")
    st = rep.get("stacking")
    if st:
        lines += ["## Stacked against one-at-a-time image runs", "",
                  "| networks | R | stacked s (R steps at once) | one at a time s (R steps) | stacked / one at a time |",
                  "|---|---|---|---|---|"]
        for label, s in st.items():
            lines.append(f"| {label} ({s['arch']}, {'x'.join(map(str, s['shape']))}, width {s['width']}) | "
                         f"{s['runs']} | {s['stacked_s']:.3f} | {s['one_at_a_time_s']:.3f} | {s['ratio']:.2f}x "
                         f"[{s['ratio_min']:.2f}-{s['ratio_max']:.2f}] |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="timed interleaved pairs per comparison (default 5)")
    ap.add_argument("--runs-dcgan", type=int, default=4, help="stacked runs of DCGAN width 16 (default 4)")
    ap.add_argument("--runs-authors", type=int, default=2, help="stacked runs of the authors' networks (default 2)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile measurement")
    ap.add_argument("--only", default="authors,switches,stacking", help="sections to run, comma-separated")
    ap.add_argument("--out", default=str(HERE / "report-steps"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    only = set(args.only.split(","))
    rep = {"hardware": f"{cpu_model()}, {os.cpu_count()} cores", "torch": torch.__version__, "aabigan": __version__,
           "threads": 1, "date": time.strftime("%Y-%m-%d"), "load_average_at_start": list(os.getloadavg()),
           "batch": BATCH, "neg_batch": NEG}
    out = Path(args.out + ".json")
    if "authors" in only:
        rep["ours_vs_authors"] = ours_vs_authors(args.repeats, not args.no_compile)
    if "switches" in only:
        rep["switches"] = switches(args.repeats, not args.no_compile)
    if "stacking" in only:
        rep["stacking"] = stacking(args.repeats, args.runs_dcgan, args.runs_authors)
    rep["load_average_at_end"] = list(os.getloadavg())
    out.write_text(json.dumps(rep, indent=1))
    Path(args.out + ".md").write_text(to_markdown(rep))
    print(to_markdown(rep))


if __name__ == "__main__":
    main()
