"""The results store: plain CSV files that cannot lose, misread or duplicate a row.

Every number in the book comes from ``results/*.csv``, so these files are the project's database.  They stay
plain, reviewable CSV -- one header, one row per (run, selection rule) -- and this module is the only code
that reads or writes them:

* **Reading is strict.**  The header must be exactly one known :class:`Schema`'s (``RUN_SCHEMA``,
  ``FID_SCHEMA``).  Every record must have one value per column, a known ``status``, and on an ``ok`` row
  the identifying values and finite numbers where the schema wants them (an ``ok`` row without an AUROC is
  malformed, not a result).  Two ``ok`` rows of one key (a run under one rule) are a duplicate.  Any such
  line is reported with ``file:line``; nothing is dropped silently (:class:`ResultsFileError`).
* **Writing is all or nothing.**  :meth:`ResultsFile.append` writes the whole new file -- the old rows, then
  all of one run's rows -- to a temporary file beside it, flushes it to disk and renames it over the old one
  (``os.replace`` is atomic on POSIX).  An interruption or a full disk leaves the old file as it was, so a
  run is either wholly in the file or not at all; the error says which rows were not written.
* **One writer at a time.**  A :class:`ResultsFile` holds an exclusive ``flock`` on ``<file>.lock`` from
  ``open`` to ``close``; a second runner on the same file is refused (:class:`ResultsLockedError`) before it
  trains anything, instead of both training every run and writing it twice.  The kernel drops the lock when
  its process dies, so a killed runner never leaves a stale lock behind.
* **Done means complete.**  :func:`complete_keys` lists the runs whose expected rows are *all* present; a
  run with some rules missing (a file written by an older version, or edited by hand) is trained again, and
  its new rows replace the incomplete ones in the same atomic write.

Why not an embedded database (``sqlite3`` with transactions and a unique key, exported to CSV)?  It would give
the same guarantees, but with two copies of the truth -- a binary file nobody can review in a pull request
and an export that can fall behind it.  The files are small (under 300 kB: rewriting one costs
milliseconds, next to runs of seconds to hours), a rename is as atomic as a transaction for a single writer,
and the lock makes the writer single.  So the CSV *is* the store.
"""
from __future__ import annotations

import csv
import errno
import fcntl
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

__all__ = ["Schema", "RUN_SCHEMA", "FID_SCHEMA", "CURVE_SCHEMA", "SCHEMAS", "ROW_FIELDS", "FID_FIELDS", "CURVE_FIELDS",
           "Row", "ResultsFile",
           "ResultsFileError", "ResultsLockedError", "ResultsWriteError", "read_rows", "check_unique",
           "complete_keys"]


class ResultsFileError(ValueError):
    """A results file (or a set of rows) that cannot be read as it stands: the message names file and line."""


class ResultsLockedError(RuntimeError):
    """Another runner is writing this results file."""


class ResultsWriteError(OSError):
    """A write failed (a full disk, a read-only folder); the file was left as it was."""


@dataclass(frozen=True)
class Schema:
    """The columns of one kind of results file and what an ``ok`` row of it must hold."""

    name: str
    fields: tuple[str, ...]
    key: tuple[str, ...]           # identifies one result: unique among the ok rows
    required: tuple[str, ...]      # non-empty on every ok row
    numeric: tuple[str, ...]       # a finite number on every ok row

    def key_of(self, row) -> tuple:
        return tuple(str(row.get(k, "")) for k in self.key)


ROW_FIELDS = ["config_hash", "status", "rule", "dataset", "method", "normal_class", "known_classes", "k_l",
              "gamma_l", "gamma_p", "seed", "profile", "auroc", "auprc", "score", "epoch", "n_train_normal",
              "n_collected", "n_polluted", "fit_seconds", "device", "aabigan_version", "torch_version",
              "python_version", "commit", "settings", "error", "finished_at"]

FID_FIELDS = ["config_hash", "status", "dataset", "objective", "anomaly_class", "profile", "seed", "fid", "rule", "epoch",
              "fid_last", "fid_real", "epochs", "n_train", "n_reference", "n_generated", "feature_net", "feature_dim",
              "feature_accuracy", "settings", "fit_seconds", "seconds", "device", "aabigan_version",
              "torch_version", "torchvision_version", "python_version", "commit", "error", "finished_at"]

CURVE_FIELDS = ["config_hash", "status", "dataset", "method", "normal_class", "known_classes", "gamma_l", "gamma_p",
                "seed", "profile", "epoch", "steps", "val_auroc_reconstruction", "val_auroc_latent",
                "test_auroc_reconstruction", "test_auroc_latent", "loss_d", "loss_ge", "fit_seconds", "device",
                "aabigan_version", "torch_version", "python_version", "commit", "settings", "error", "finished_at"]

#: AUROC runs (:mod:`aabigan.experiments`): one row per (run, selection rule)
RUN_SCHEMA = Schema("run", tuple(ROW_FIELDS), key=("config_hash", "rule"),
                    required=("config_hash", "rule", "dataset", "method", "normal_class", "seed", "profile",
                              "finished_at"),
                    numeric=("gamma_l", "gamma_p", "auroc", "auprc"))
#: Table 4's FID cells (:mod:`aabigan.fid`, :func:`aabigan.experiments.run_grid` with ``report="fid"``): one
#: row per :class:`aabigan.fid.FidConfig`, keyed like a run's by its config hash (files written before the hash
#: was a column: :func:`aabigan.migrations.fid_config_hash`)
FID_SCHEMA = Schema("fid", tuple(FID_FIELDS), key=("config_hash", "rule"),
                    required=("config_hash", "dataset", "objective", "anomaly_class", "profile", "seed", "rule", "feature_net",
                              "finished_at"),
                    numeric=("fid",))
#: learning curves (:func:`aabigan.experiments.run_grid` with ``report="curve"``): one row per (run, epoch)
CURVE_SCHEMA = Schema("curve", tuple(CURVE_FIELDS), key=("config_hash", "epoch"),
                      required=("config_hash", "dataset", "method", "normal_class", "seed", "profile", "epoch",
                                "steps", "finished_at"),
                      numeric=("gamma_l", "gamma_p", "val_auroc_reconstruction", "val_auroc_latent",
                               "test_auroc_reconstruction", "test_auroc_latent"))
SCHEMAS = (RUN_SCHEMA, FID_SCHEMA, CURVE_SCHEMA)
#: headers that older versions wrote -> the migration that rewrites such a file (:mod:`aabigan.migrations`)
_MIGRATIONS = {tuple(f for f in FID_FIELDS if f != "config_hash"): "aabigan.migrations.fid_config_hash(path)"}
_STATUSES = ("ok", "failed")


class Row(dict):
    """A result row (a plain dict of its columns) that remembers where it was read: ``source`` is
    ``"file:line"``."""

    source: str = "?"

    @classmethod
    def at(cls, values: dict, source: str) -> "Row":
        row = cls(values)
        row.source = source
        return row


def _source(row) -> str:
    return getattr(row, "source", "?")


def _problems_of_row(row: dict, schema: Schema) -> list[str]:
    status = row.get("status", "")
    if status not in _STATUSES:
        return [f"status {status!r} is not one of {', '.join(_STATUSES)}"]
    if not row.get("finished_at"):
        return ["no finished_at"]
    if status != "ok":
        return []
    out = [f"an ok row without {k}" for k in schema.required if not str(row.get(k, "")).strip()]
    for k in schema.numeric:
        try:
            v = float(row.get(k, ""))
        except (TypeError, ValueError):
            out.append(f"{k} {row.get(k)!r} is not a number")
            continue
        if not math.isfinite(v):
            out.append(f"{k} is {v}")
    return out


def check_unique(rows: Iterable[dict], schema: Schema = RUN_SCHEMA, what: str = "rows") -> None:
    """Raise :class:`ResultsFileError` if two ok rows share a key (one run reported twice under one rule),
    naming both rows' ``file:line``.  Rows without a key (hand-made rows without a ``config_hash``) are not
    checked."""
    seen: dict[tuple, dict] = {}
    dups = []
    for r in rows:
        if r.get("status") != "ok":
            continue
        k = schema.key_of(r)
        if "" in k:
            continue
        if k in seen:
            dups.append(f"{_source(seen[k])} and {_source(r)}: {dict(zip(schema.key, k))}")
        else:
            seen[k] = r
    if dups:
        more = f" (and {len(dups) - 10} more)" if len(dups) > 10 else ""
        raise ResultsFileError(f"{what} hold {len(dups)} duplicate result(s) -- one run reported twice under one "
                               "rule:\n  " + "\n  ".join(dups[:10]) + more)


def _parse(path: Path, text: str, schema: Schema | None) -> tuple[Schema | None, list[Row]]:
    """The schema and the rows of a file's text; :class:`ResultsFileError` listing every malformed line."""
    if not text:
        return schema, []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ResultsFileError(f"{path}:1: unreadable header ({exc})") from None
    known = [schema] if schema is not None else list(SCHEMAS)
    found = next((s for s in known if tuple(header) == s.fields), None)
    if found is None:
        want = " or ".join(",".join(s.fields) for s in known)
        hint = _MIGRATIONS.get(tuple(header))
        hint = f"\n  it is an older version's header: {hint} rewrites the file" if hint else ""
        raise ResultsFileError(f"{path}: its header is not the one this version writes; refusing to read rows "
                               f"under the wrong columns.\n  found:    {','.join(header)}\n  expected: {want}{hint}")
    rows, problems, start = [], [], 2
    try:
        for values in reader:
            line, start = start, reader.line_num + 1
            where = f"{path}:{line}"
            if len(values) != len(found.fields):
                problems.append(f"{where}: {len(values)} values for {len(found.fields)} columns")
                continue
            row = Row.at(dict(zip(found.fields, values)), where)
            problems += [f"{where}: {p}" for p in _problems_of_row(row, found)]
            rows.append(row)
    except csv.Error as exc:
        problems.append(f"{path}:{start}: unreadable ({exc})")
    if problems:
        more = f"\n  (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise ResultsFileError(f"{path} holds {len(problems)} malformed line(s); fix or remove them (nothing "
                               "was read):\n  " + "\n  ".join(problems[:20]) + more)
    check_unique(rows, found, str(path))
    return found, rows


def read_rows(path, schema: Schema | None = None) -> list[Row]:
    """Every row of a results file, checked (:class:`ResultsFileError` names each malformed line); no rows for
    a file that does not exist yet.  ``schema``: the header the file must have (default: any known one)."""
    path = Path(path)
    if not path.is_file():
        return []
    return _parse(path, path.read_text(encoding="utf-8"), schema)[1]


def complete_keys(rows: Iterable[dict], expected: dict[str, set[str]], id_field: str = "config_hash") -> set[str]:
    """The ids (``config_hash``) in ``expected`` whose ok rows cover every expected rule."""
    have: dict[str, set[str]] = {}
    for r in rows:
        if r.get("status") == "ok":
            have.setdefault(r[id_field], set()).add(r["rule"])
    return {i for i, rules in expected.items() if rules <= have.get(i, set())}


class ResultsFile:
    """One results file opened for writing: locked, checked, appended to one whole run at a time.

        with ResultsFile("results/odds-cpu.csv") as store:
            done = store.rows            # the rows already there (checked)
            store.append(rows_of_one_run)

    Opening takes the lock (or raises :class:`ResultsLockedError`), creates the folder, checks that it can be
    written and reads the existing rows (:func:`read_rows`), all before anything is trained.
    """

    def __init__(self, path, schema: Schema = RUN_SCHEMA):
        self.path = Path(path)
        self.schema = schema
        self.rows: list[Row] = []
        self._lock = None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def open(self) -> "ResultsFile":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.lock_path, "a+")
        except OSError as exc:
            raise ResultsWriteError(exc.errno, f"cannot write results to {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ResultsLockedError(f"{self.path} is being written by another runner ({holder}); wait for it "
                                         f"to finish or write to another file") from None
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self._lock = fh
        try:
            self.rows = read_rows(self.path, self.schema)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> "ResultsFile":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def append(self, rows: list[dict], replace: Iterable[str] = (), id_field: str = "config_hash") -> None:
        """Add ``rows`` (all rows of one run) in one atomic write; ok rows of the ids in ``replace`` (an
        incomplete earlier run of the same config) are removed in the same write.  Raises
        :class:`ResultsWriteError` (the file unchanged) if the disk refuses the write."""
        if self._lock is None:
            raise RuntimeError(f"{self.path} is not open for writing; use `with ResultsFile(path) as store:`")
        fields = self.schema.fields
        new = []
        for r in rows:
            extra = set(r) - set(fields)
            if extra:
                raise ValueError(f"rows for {self.path} have columns {sorted(extra)} that its schema lacks")
            row = Row.at({k: "" if r.get(k) is None else r.get(k) for k in fields}, f"{self.path}:(new)")
            problems = _problems_of_row({k: str(v) for k, v in row.items()}, self.schema)
            if problems:
                raise ValueError(f"refusing to write a malformed row to {self.path}: {'; '.join(problems)} ({row})")
            new.append(row)
        replace = set(replace)
        kept = [r for r in self.rows if not (replace and r.get("status") == "ok" and r.get(id_field) in replace)]
        check_unique([*kept, *new], self.schema, str(self.path))
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
        writer.writerows(new)
        self._replace(buf.getvalue().encode("utf-8"), len(new))
        self.rows = read_rows(self.path, self.schema)

    def _replace(self, data: bytes, n_new: int) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise ResultsWriteError(exc.errno, f"could not write {n_new} new row(s) to {self.path} "
                                               f"({exc.strerror or exc}); the file is unchanged") from None
        try:                                   # the rename itself reaches the disk with the folder
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
