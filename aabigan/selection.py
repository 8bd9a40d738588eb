"""The selection rules: which epoch (and which score) a training run reports.

One function for the detector and the experiment runner alike (they used to write the rule twice):

* :func:`best_epoch` -- the epoch with the highest validation AUROC; among ties the *latest* (a small
  validation split often scores AUROC 1 from early in training on, and the earliest of the tied epochs is the
  least trained network).
* :func:`select` -- AA-BiGAN's rules: ``epoch_rule="last"`` or ``"best_val"``, with a fixed score or
  ``score="auto"`` (the paper's rule: the score with the higher validation AUROC -- at the last epoch, or
  jointly with the epoch).  Among scores of equal validation AUROC at the same epoch, the first of ``scores``
  (the reconstruction error) is kept.

A history is a list of per-epoch records ``{"epoch": e, "val_auroc_<score>": ...}`` (a baseline's:
``{"epoch": e, "val_auroc": ...}``).
"""
from __future__ import annotations

from .scores import EXTRA_SCORES, SCORES

__all__ = ["best_epoch", "select", "recorded_scores", "aabigan_rules", "EPOCH_RULES", "RULES", "BASELINE_RULES",
           "FIXED_RULES"]

EPOCH_RULES = ("last", "best_val")


def recorded_scores(score: str = "auto") -> tuple[str, ...]:
    """The scores every epoch of an AA-BiGAN fit with ``score`` records: the paper's two (:data:`SCORES`), and
    the chosen one too when it is another (an extra score such as ALAD's ``"features"``)."""
    return SCORES + ((score,) if score in EXTRA_SCORES else ())


def aabigan_rules(score: str | None = "auto") -> tuple[str, ...]:
    """The rules an AA-BiGAN run with ``score`` is reported under: :data:`RULES`, and ``last/<score>`` for an
    extra score it records (:func:`recorded_scores`).  The detector and the runner both ask this."""
    return tuple(f"last/{s}" for s in recorded_scores(score)) + ("val/auto",)


# The rules a result row is reported under (its ``rule`` column):
#: the selection rules of AA-BiGAN (a method reported per epoch and score): label-free last epoch with a fixed
#: score, and the paper's choice of epoch and score on the validation split
RULES = aabigan_rules()
#: the selection rules of a baseline that trains by epochs (:attr:`Method.by_epoch`), the same two kinds:
#: ``last``, the networks after the last epoch, label-free (the number its ``fixed`` row reported before these
#: rules existed); ``val/epoch``, the test AUROC at the epoch with the best validation AUROC (the latest epoch
#: among ties, as ``val/auto``).  The test AUROC of every epoch is recorded by the runner's callback and is
#: never used for a choice.
BASELINE_RULES = ("last", "val/epoch")
#: a method without training epochs (OCSVM, SSAD, AAD): one row, its score after training -- label-free, and
#: the row both kinds of table take for it
FIXED_RULES = ("fixed",)


def _check(history, keys) -> None:
    if not history:
        raise ValueError("the history is empty: nothing was trained to select from")
    missing = sorted({k for h in history for k in keys if k not in h})
    if missing:
        raise ValueError(f"the history lacks {', '.join(missing)} (a validation set scored every epoch)")


def best_epoch(history: list[dict], key: str = "val_auroc") -> int:
    """The epoch with the highest ``key``; the latest among ties."""
    _check(history, (key,))
    return int(max(history, key=lambda h: (h[key], h["epoch"]))["epoch"])


def select(history: list[dict], score: str = "auto", epoch_rule: str = "best_val",
           scores: tuple[str, ...] = SCORES) -> tuple[str, int]:
    """(score, epoch) that the rule picks from ``history`` (see the module docstring)."""
    if epoch_rule not in EPOCH_RULES:
        raise ValueError(f"unknown epoch_rule {epoch_rule!r}; choose one of {EPOCH_RULES}")
    names = tuple(scores) if score == "auto" else (score,)
    if epoch_rule == "last":
        _check(history, ())
        last = history[-1]
        if score != "auto":
            return score, int(last["epoch"])
        _check([last], [f"val_auroc_{s}" for s in names])
        return max(names, key=lambda s: last[f"val_auroc_{s}"]), int(last["epoch"])
    _check(history, [f"val_auroc_{s}" for s in names])
    picks = [(s, best_epoch(history, f"val_auroc_{s}")) for s in names]
    value = {int(h["epoch"]): h for h in history}
    return max(picks, key=lambda p: (value[p[1]][f"val_auroc_{p[0]}"], p[1]))
