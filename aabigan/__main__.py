"""Command line: ``python -m aabigan run ...`` (a grid), ``python -m aabigan fid ...`` (Table 4) and
``python -m aabigan table ...``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .experiments import (GRIDS, METHODS, RunConfig, current_rows, dask_executor, grid, pending, read_rows,
                          rows_of_protocol, run_grid)
from .profiles import PROFILES, SUPERSEDED, current_profile_name
from .store import check_unique
from .tables import TABLE_KEYS, caption, compare, compare_selection, to_markdown, to_wide


def _non_negative(text: str, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: {text.strip()!r} is not a non-negative integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{what}: {value} is negative")
    return value


def _int_list(text: str) -> list[int]:
    """'0-4' -> [0..4]; '1,3,5' -> [1, 3, 5].  An empty or descending range ('3-1'), a repeated value or
    anything but non-negative integers is an error (argparse reports it), never an empty or altered list."""
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            bounds = part.split("-")
            if len(bounds) != 2:
                raise argparse.ArgumentTypeError(f"{part!r} is not a range low-high of non-negative integers")
            lo, hi = (_non_negative(b, f"range {part!r}") for b in bounds)
            if hi < lo:
                raise argparse.ArgumentTypeError(f"the range {part!r} is empty: it runs downwards; write it "
                                                 f"low-high, e.g. {hi}-{lo}")
            out += list(range(lo, hi + 1))
        else:
            out.append(_non_negative(part, f"{text!r}"))
    twice = sorted({v for v in out if out.count(v) > 1})
    if twice:
        raise argparse.ArgumentTypeError(f"{text!r} lists {', '.join(map(str, twice))} more than once")
    return out


def _classes(text: str) -> list[int]:
    """An :func:`_int_list` of image classes, 0-9."""
    out = _int_list(text)
    bad = [c for c in out if c > 9]
    if bad:
        raise argparse.ArgumentTypeError(f"class(es) {bad} do not exist: image classes are 0-9")
    return out


def _pairs(text: str) -> list[tuple[int, int]]:
    """'0:1,3:5' -> [(0, 1), (3, 5)] (normal class : first collected class), classes 0-9, the two different."""
    out = []
    for part in text.split(","):
        fields = part.split(":")
        if len(fields) != 2:
            raise argparse.ArgumentTypeError(f"{part!r} is not a pair normal:collected, e.g. 0:1")
        normal, collected = (_non_negative(f, f"pair {part!r}") for f in fields)
        if normal > 9 or collected > 9:
            raise argparse.ArgumentTypeError(f"pair {part!r}: image classes are 0-9")
        if normal == collected:
            raise argparse.ArgumentTypeError(f"pair {part!r}: the collected anomaly class must differ from the "
                                             "normal class")
        if (normal, collected) in out:
            raise argparse.ArgumentTypeError(f"{text!r} lists the pair {part!r} more than once")
        out.append((normal, collected))
    return out


def _positive_int(text: str) -> int:
    value = _non_negative(text, "value")
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1, got 0")
    return value


def _setting(text: str) -> tuple[str, object]:
    """'ema_decay=0.99' -> ("ema_decay", 0.99): the value parsed as JSON (numbers, true/false, null), else text."""
    import json

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set takes name=value, got {text!r}")
    name, value = text.split("=", 1)
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m aabigan", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run a grid of configs, appending rows to a CSV (resumable)")
    r.add_argument("--grid", choices=GRIDS, help="a paper table's grid")
    r.add_argument("--dataset", help="comma-separated datasets (default: the grid's)")
    r.add_argument("--methods", help=f"comma-separated methods: {', '.join(sorted(METHODS))}")
    r.add_argument("--seeds", type=_int_list, help="e.g. 0-9 or 0,3,5")
    r.add_argument("--pairs", type=_pairs, help="image class pairs normal:collected, e.g. 0:1,2:3")
    r.add_argument("--variants", help="with --grid ablations: comma-separated variants (default: all), e.g. "
                                      "plain,deepsad-split")
    r.add_argument("--gamma-l", type=float, help="with --dataset and no --grid: the collected ratio")
    r.add_argument("--gamma-p", type=float, default=0.0)
    r.add_argument("--profile", default=None, help=f"{', '.join(PROFILES)}, or a superseded "
                   f"definition ({', '.join(SUPERSEDED)}) (default: $AABIGAN_PROFILE or smoke)")
    r.add_argument("--out", required=True, help="results CSV to append to")
    r.add_argument("--threads", type=_positive_int, default=None, help="torch threads (default: torch's choice)")
    r.add_argument("--stack", type=_positive_int, default=1,
                   help="train up to this many AA-BiGAN runs of one cell together: the seeds of a tabular cell, "
                        "the class pairs of an image cell (default 1: one at a time)")
    r.add_argument("--workers", type=_positive_int, default=1,
                   help="train this many runs (or stacks) at once in worker processes (default 1); with "
                        "--threads, the torch threads of each")
    r.add_argument("--set", dest="overrides", type=_setting, action="append", default=[], metavar="NAME=VALUE",
                   help="override a method setting of every config, e.g. --set ema_decay=0.99 (repeatable)")
    r.add_argument("--report", choices=("rules", "curve"), default="rules",
                   help="rules: one row per selection rule (default); curve: one row per epoch (learning curves)")
    r.add_argument("--dask", metavar="ADDRESS", default=None,
                   help="train on a Dask cluster: 'local' (a LocalCluster of --workers one-thread processes) or a "
                        "scheduler address, e.g. tcp://host:8786; needs pip install 'aabigan[dask]'")
    r.add_argument("--dask-resources", metavar="NAME=N", default=None,
                   help="resources every run asks of its Dask worker, e.g. GPU=1 (workers started with "
                        "--resources GPU=1)")
    r.add_argument("--dry-run", action="store_true", help="list the configs still to run and stop")

    f = sub.add_parser("fid", help="Table 4: FID of generated images, appending rows to a CSV (resumable)")
    f.add_argument("--dataset", default="mnist,fmnist,cifar10", help="comma-separated image datasets")
    f.add_argument("--classes", type=_classes, default=list(range(10)),
                   help="the left-out ('anomaly') classes, e.g. 0-9 (default) or 0,3")
    f.add_argument("--objectives", default="aa", help="comma-separated: aa (AA-BiGAN), lsgan, bigan")
    f.add_argument("--features", default="inception", choices=("inception", "classifier", "stand-in"),
                   help="inception (needs its weights: downloaded when online), classifier (trained here; "
                        "works offline, its own scale), stand-in (random features, smoke runs only)")
    f.add_argument("--seeds", type=_int_list, default=[0])
    f.add_argument("--profile", default=None, help=f"{', '.join(PROFILES)}, or a superseded "
                   f"definition ({', '.join(SUPERSEDED)}) (default: $AABIGAN_PROFILE or smoke)")
    f.add_argument("--out", required=True, help="results CSV to append to")
    f.add_argument("--rule", default="best", choices=("best", "last"),
                   help="best: the lowest FID over the epochs (the paper's); last: after the last epoch")
    f.add_argument("--threads", type=_positive_int, default=None, help="torch threads (default: torch's choice)")
    f.add_argument("--dry-run", action="store_true", help="list the cells still to run and stop")

    t = sub.add_parser("table", help="mean ± std of a paper table from result rows, beside the paper's")
    t.add_argument("name", choices=sorted([*TABLE_KEYS, "table4"]))
    t.add_argument("results", nargs="+", help="results CSV file(s)")
    t.add_argument("--rule", default=None,
                   help="one selection rule: val/auto, last/reconstruction, last/latent (baselines: their fixed rows). "
                        "Default: every method under both kinds of rule, label-free / chosen on validation "
                        "(aabigan.tables.SELECTIONS)")
    t.add_argument("--profile", default=None, help="only this profile's rows; a superseded definition "
                   f"({', '.join(SUPERSEDED)}) shows the rows written under it")
    t.add_argument("--long", action="store_true", help="one line per cell instead of the paper's layout")
    args = ap.parse_args(argv)

    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)

    if args.cmd == "fid":
        from .fid import fid_grid, run_fid

        cells = (args.dataset.split(","), args.classes, args.objectives.split(","),
                 args.profile or current_profile_name(), args.seeds, args.features, args.rule)
        if args.dry_run:
            configs = fid_grid(*cells)
            todo = pending(configs, read_rows(args.out), "fid")
            print(f"{len(configs)} cells, {len(configs) - len(todo)} done, {len(todo)} to run")
            for c in todo:
                print(c)
            return 0
        counts = run_fid(cells[0], cells[1], args.out, *cells[2:])
        print(f"{counts['ran']} cells ({counts['failed']} failed), {counts['done_before']} already done -> {args.out}")
        return 1 if counts["failed"] else 0

    if args.cmd == "run":
        profile = args.profile or current_profile_name()
        datasets = args.dataset.split(",") if args.dataset else None
        methods = args.methods.split(",") if args.methods else None
        if args.grid:
            try:
                configs = grid(args.grid, profile, datasets, methods, args.seeds, args.pairs,
                               args.variants.split(",") if args.variants else None)
            except ValueError as e:
                ap.error(str(e))
        else:
            if not datasets or args.gamma_l is None:
                ap.error("without --grid, give --dataset and --gamma-l")
            configs = [RunConfig(d, m, n, (k,) if args.gamma_l > 0 else (), args.gamma_l, args.gamma_p, s, profile)
                       for d in datasets for m in (methods or ["aabigan"])
                       for n, k in (args.pairs or [(0, 1)]) for s in (args.seeds or [0])]
        if args.overrides:
            import dataclasses

            configs = [dataclasses.replace(c, overrides={**dict(c.overrides), **dict(args.overrides)})
                       for c in configs]
        if args.dry_run:
            todo = pending(configs, read_rows(args.out), args.report)
            print(f"{len(configs)} configs, {len(configs) - len(todo)} done, {len(todo)} to run")
            for c in todo:
                print(c)
            return 0
        executor = client = None
        if args.dask:
            resources = None
            if args.dask_resources:
                name, _, n = args.dask_resources.partition("=")
                try:
                    resources = {name.strip(): float(n)}
                except ValueError:
                    ap.error(f"--dask-resources takes NAME=N, got {args.dask_resources!r}")
            executor, client = dask_executor(args.dask, args.workers, resources)
        try:
            counts = run_grid(configs, args.out, stack=args.stack, workers=args.workers, threads=args.threads,
                              report=args.report, executor=executor)
        finally:
            if client is not None:
                client.close()
                if args.dask == "local":
                    client.cluster.close()
        print(f"{counts['ran']} runs ({counts['failed']} failed), {counts['done_before']} already done -> {args.out}")
        return 1 if counts["failed"] else 0

    # read_rows gives no rows for a missing file (a grid not started yet); here a missing file is a typo
    missing = [path for path in args.results if not Path(path).is_file()]
    if missing:
        t.error(f"results file(s) not found: {', '.join(missing)}")
    rows = [row for path in args.results for row in read_rows(path)]
    if args.name == "table4":
        from .fid import summarise_fid

        table = summarise_fid(rows)
        print("table4: FID of generated images, lower = better (ours: mean ± std over the left-out classes); "
              "the paper's uses Inception features, ours the feature network named in each row\n")
        print(to_markdown(table, ["dataset", "method", "feature_net", "ours", "real", "n", "paper_method", "paper",
                                  "profile"]))
        return 0
    check_unique(rows, what="the rows of " + ", ".join(args.results))   # a file given twice is an error
    if args.profile in SUPERSEDED:            # the rows of a superseded definition, named as such
        rows, stale = [dict(r, profile=args.profile) for r in rows_of_protocol(rows, args.profile)], []
    else:
        rows, stale = current_rows(rows)
    if stale:
        print(f"({len(stale)} rows of configs that their profile no longer defines are left out: written before "
              "the profile changed; a grid would train them again; --profile NAME@N shows the rows of a superseded "
              "definition)\n", file=sys.stderr)
    if args.rule is None:
        table = compare_selection(args.name, rows, args.profile)
        if args.long:
            print(to_markdown(table, [*TABLE_KEYS[args.name], "label_free", "label_free_n", "validation",
                                      "validation_n", "paper", "profile"]))
        else:
            wide, cols = to_wide(table, args.name, marks=True)
            print(to_markdown(wide, cols))
        profiles = ", ".join(sorted({r["profile"] for r in table})) or "none"
        print("\n" + caption(args.name, profiles, "label-free / validation"))
        return 0
    table = compare(args.name, rows, args.rule, args.profile)
    profiles = ", ".join(sorted({p for r in table for p in r["profile"].split(",")})) or "none"
    if args.long:
        print(f"{args.name}, rule {args.rule}; ours: AUROC % mean ± std over n runs (profile {profiles})\n")
        print(to_markdown(table, list(TABLE_KEYS[args.name]) + ["ours", "n", "paper", "profile"]))
    else:
        print(f"{args.name}, rule {args.rule}: ours, AUROC % mean ± std (the paper's value in brackets); "
              f"profile {profiles}\n")
        wide, cols = to_wide(table, args.name)
        print(to_markdown(wide, cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
