"""The three run profiles, chosen by ``AABIGAN_PROFILE`` (or a ``--profile`` flag).

* ``smoke``: seconds per run on a CPU -- what CI and the notebooks under nbval run.  Numbers from it
  only show that the machinery works.
* ``cpu``: a reduced protocol that a 2-core CPU finishes in about an hour per table cell: ten class pairs
  instead of 90, narrower networks and a schedule chosen from the learning-curve study of issue 13 (every
  normal training image of the class, as many epochs as the median run needs to reach its plateau).  The
  book states it beside every number.  Image rows written before that study (20 epochs on 1000 images) are
  of another config hash: :func:`aabigan.experiments.current_rows` tells them apart.
* ``paper``: the paper's protocol (Supp. E and the authors' code): every (normal, collected) class pair,
  DCGAN width 64, batch 200 normals + 50 collected anomalies, 200 epochs on MNIST / F-MNIST and 1000 on
  CIFAR-10; for a GPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Profile", "PROFILES", "get_profile", "current_profile_name", "RUNNER_BASE_SETTINGS",
           "BASELINE_WIDTH_DIVISOR", "BASELINE_MIN_WIDTH", "FID_CLASSIFIER", "CPU_IMAGE_SCHEDULE", "epochs_reaching",
           "SUPERSEDED", "versions_of"]

#: The detector's defaults before issue 12 for every parameter whose default changed then.  The runner builds
#: ``AABiGAN(**{**RUNNER_BASE_SETTINGS, **settings})`` so that a profile's settings (which name only some
#: parameters) train what they trained when the committed rows were written; this dict is not part of a
#: config hash.  ``AABiGAN()`` itself now trains at least 100 epochs and 5000 steps (chapter 15).
RUNNER_BASE_SETTINGS = MappingProxyType(dict(epochs=100, min_steps=0))

#: The baselines of Deep SAD's family (Deep SVDD, Deep SAD, CAE, the hybrid autoencoders, the supervised
#: classifier, SS-DGM) build their networks at the profile's ``width`` divided by this, never below
#: ``BASELINE_MIN_WIDTH``: the paper profile's width 64 gives Deep SAD's CIFAR-10 LeNet, 32-64-128 channels.
BASELINE_WIDTH_DIVISOR = 2
BASELINE_MIN_WIDTH = 4


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    tabular: dict = field(default_factory=dict)     # AABiGAN settings for the ODDS tables
    image: dict = field(default_factory=dict)       # AABiGAN settings for 32x32 images
    image_by_dataset: dict = field(default_factory=dict)  # per-dataset settings over ``image``
    split_image: dict = field(default_factory=dict)   # make_split arguments (subsampling)
    pairs: str = "all"                                # which (normal, collected) class pairs
    n_seeds_tabular: int = 10
    #: Table 4 (:mod:`aabigan.fid`): per-dataset epochs of the FID runs; a dataset not named trains the
    #: profile's image epochs.  Supp. F: "We train 20 epochs for F-MNIST and MNIST and 100 epochs for CIFAR-10".
    fid_epochs: dict = field(default_factory=dict)
    #: Table 4's data caps, :func:`aabigan.fid.nine_class_data`'s ``max_train`` / ``max_reference`` (none: all)
    fid_data: dict = field(default_factory=dict)
    #: whether the image schedule is the one the learning-curve study measured to be enough (chapter 10): runs
    #: at that schedule train fewer steps than :data:`aabigan.detector.SHORT_FIT_STEPS` on purpose, so the runner
    #: does not warn that they are short (:class:`aabigan.detector.ShortFitWarning`)
    measured_image_schedule: bool = False

    def fid_settings(self, dataset: str) -> dict:
        """AA-BiGAN's settings for a Table 4 (FID) run on ``dataset``: the image settings every dataset shares
        (``image``, not a dataset's own ``image_by_dataset``: Table 4 has a protocol of its own), with the FID
        epochs (else the shared image epochs)."""
        out = dict(self.image)
        out["epochs"] = self.fid_epochs.get(dataset, out.get("epochs"))
        return out

    def method_settings(self, dataset: str, family: str) -> dict:
        if family == "tabular":
            return dict(self.tabular)
        return {**self.image, **self.image_by_dataset.get(dataset, {})}

    def class_pairs(self) -> list[tuple[int, int]]:
        """(normal class, collected class) pairs of the image tables."""
        if self.pairs == "all":
            return [(n, k) for n in range(10) for k in range(10) if n != k]
        if self.pairs == "ring":
            return [(n, (n + 1) % 10) for n in range(10)]
        if self.pairs == "one":
            return [(0, 1)]
        raise ValueError(f"unknown pair set {self.pairs!r}")


PROFILES = MappingProxyType({
    "smoke": Profile(
        "smoke", "seconds per run on a CPU; shows that the machinery works, not what the method can do",
        tabular=dict(epochs=5, batch_size=64),
        image=dict(epochs=1, batch_size=32, neg_batch_size=8, width=8),
        split_image=dict(max_train_normal=128, max_eval=250),
        pairs="one", n_seeds_tabular=2, fid_data=dict(max_train=128, max_reference=250)),
    "cpu": Profile(
        "cpu", "reduced protocol for a 2-core CPU: 10 class pairs (normal n, collected n+1 mod 10), every normal "
               "training image of the class and the whole test split, batch 64 + 16, the schedule of the "
               "learning-curve study (issue 13; results/convergence-curves.csv): MNIST width 32, 10 epochs; "
               "F-MNIST width 32, 7 epochs; CIFAR-10 width 16, 44 epochs; full ODDS data, 100 epochs and at "
               "least 3000 steps",
        tabular=dict(epochs=100, min_steps=3000, batch_size=128),
        # width 16 where a dataset sets no width of its own: Table 4's FID runs (fid_settings)
        image=dict(batch_size=64, neg_batch_size=16, width=16),
        image_by_dataset={"mnist": dict(epochs=10, width=32), "fmnist": dict(epochs=7, width=32),
                          "cifar10": dict(epochs=44)},
        split_image=dict(),
        pairs="ring", n_seeds_tabular=10,
        # Table 4 keeps its own protocol (the paper's, too, is its own: Supp. F), on 1000 + 2000 images
        fid_epochs={"mnist": 20, "fmnist": 20, "cifar10": 20},
        fid_data=dict(max_train=1000, max_reference=2000), measured_image_schedule=True),
    "paper": Profile(
        "paper", "the paper's protocol: all 90 class pairs, full data, DCGAN width 64 (the networks the "
                 "paper's text describes; the authors' code ran thinner ones, an option: --set arch=authors), "
                 "batch 200 + 50, 200 epochs (MNIST, F-MNIST) / 1000 (CIFAR-10); ODDS: 200 epochs and at least "
                 "5000 steps (the paper states no ODDS schedule); for a GPU",
        tabular=dict(epochs=200, min_steps=5000, batch_size=128),
        image=dict(epochs=200, batch_size=200, neg_batch_size=50, width=64),
        image_by_dataset={"cifar10": dict(epochs=1000)},
        split_image=dict(),
        pairs="all", n_seeds_tabular=10,
        fid_epochs={"mnist": 20, "fmnist": 20, "cifar10": 100}),
})

#: Earlier definitions of a profile, named ``"name@version"`` (1: the first), kept so that the rows written under
#: them stay checkable and reproducible: ``RunConfig(..., profile="cpu@1")`` is the config such a row was written
#: for, with the row's hash (a superseded definition hashes under its profile's plain name).  A grid run with
#: ``--profile cpu@1`` finds those rows done.
SUPERSEDED = MappingProxyType({
    "cpu@1": Profile(
        "cpu", "the cpu profile before the learning-curve study (until issue 13): 10 class pairs, 1000 normal "
               "training images, 2000 evaluation images, DCGAN width 16, 20 epochs (about 300 steps: "
               "undertrained); ODDS as today",
        tabular=dict(epochs=100, min_steps=3000, batch_size=128),
        image=dict(epochs=20, batch_size=64, neg_batch_size=16, width=16),
        split_image=dict(max_train_normal=1000, max_eval=2000),
        pairs="ring", n_seeds_tabular=10, fid_data=dict(max_train=1000, max_reference=2000)),
})


def versions_of(name: str) -> list[str]:
    """The profile ``name`` and its superseded definitions (:data:`SUPERSEDED`), newest first."""
    return [name] + sorted((k for k in SUPERSEDED if k.split("@")[0] == name),
                           key=lambda k: -int(k.split("@")[1]))


#: The ``cpu`` image schedule, per dataset (training steps, DCGAN width): what
#: :func:`aabigan.figures.choose_schedules` picks from the committed learning-curve study (the fewest steps from
#: which the median run stays within a point of its validation plateau, at the width whose 10-pair table cell
#: is the cheapest that fits about an hour).  The profile trains :func:`epochs_reaching` these steps on the
#: dataset's smallest class, so every pair trains at least as long.
CPU_IMAGE_SCHEDULE = MappingProxyType({"mnist": (828, 32), "fmnist": (651, 32), "cifar10": (3432, 16)})


def epochs_reaching(steps: int, n_normal: int, batch_size: int) -> int:
    """The fewest epochs over ``n_normal`` normal images, in batches of ``batch_size`` (the last incomplete
    one dropped, as the trainer does), that take at least ``steps`` steps."""
    per_epoch = max(1, int(n_normal) // int(batch_size))
    return max(1, -(-int(steps) // per_epoch))


#: Table 4's offline feature network (:class:`aabigan.fid.ClassifierFeatures`, ``features="classifier"``): the
#: CNN whose pooled features the FID runs measure, trained on this many images for this many epochs from this
#: seed -- the same network under every profile, so FIDs of one dataset stay on one scale
FID_CLASSIFIER = MappingProxyType(dict(max_train=10000, epochs=2, seed=0))


def current_profile_name(default: str = "smoke") -> str:
    return os.environ.get("AABIGAN_PROFILE", default)


def get_profile(name: str | None = None) -> Profile:
    """The named profile (or a superseded definition, ``"cpu@1"``: :data:`SUPERSEDED`), or ``$AABIGAN_PROFILE``
    (default ``smoke``); ValueError if unknown."""
    name = current_profile_name() if name is None else name
    if name in SUPERSEDED:
        return SUPERSEDED[name]
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)} (or a superseded "
                         f"definition: {', '.join(SUPERSEDED)})")
    return PROFILES[name]
