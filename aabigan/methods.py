"""The named methods of the experiment runner: AA-BiGAN, its unsupervised reading and the paper's baselines.

    from aabigan.methods import METHODS
    METHODS["deepsad"].build({"epochs": 50, "width": 64})   # a DeepSAD with epochs=50, width=32

Every built-in method is defined here, statically: which estimator it builds, how a config's settings (written
in AA-BiGAN's terms: ``epochs``, ``batch_size``, ``width``, ...) map to the estimator's parameters, whether it
trains on the collected anomalies, and which selection rules report it (:mod:`aabigan.selection`).  The
estimators themselves (:mod:`aabigan.detector`, :mod:`aabigan.baselines`) know nothing of the runner.
:func:`register_method` adds a method at run time (a test's, or a user's own detector); such methods run in
the driver process only.

Settings and the baselines: a setting the baseline has is passed on; one of AA-BiGAN's that it lacks is
ignored; any other name is an error (a typo in an override must not pass silently).  The networks of Deep
SAD's family (Deep SVDD, Deep SAD, CAE, the hybrid autoencoders, the supervised classifier, SS-DGM) take half
the DCGAN ``width``: the paper profile's width 64 gives Deep SAD's CIFAR-10 LeNet, 32-64-128 channels.
``epochs`` sets every training stage of a method (for Deep SVDD / Deep SAD: the pretraining and the main
training each).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable

from .baselines import AAD, ALAD, CAE, NDA, OCSVM, SSAD, SSDGM, DeepSAD, DeepSVDD, SupervisedClassifier
from .detector import AABiGAN
from .profiles import BASELINE_MIN_WIDTH, BASELINE_WIDTH_DIVISOR, RUNNER_BASE_SETTINGS
from .selection import BASELINE_RULES, FIXED_RULES, RULES
from .validation import check_integer

__all__ = ["Method", "METHODS", "BUILT_IN_METHODS", "BASELINE_METHODS", "register_method", "make_builder",
           "make_resolver"]


@dataclass(frozen=True)
class Method:
    """How a named method is built and trained.  ``uses_labels``: whether collected anomalies are used.

    How a run is reported (:attr:`rules`): ``per_epoch``, AA-BiGAN's detector, whose ``fit`` scores the
    validation and test sets per epoch and score (:data:`RULES`); ``by_epoch``, an estimator that trains by
    epochs behind the baselines' hook ``fit(X, y, eval_set, callbacks)`` (:data:`BASELINE_RULES`); neither, a
    method reported once after training (:data:`FIXED_RULES`).

    ``resolve(settings)`` gives the estimator's own parameters that a config's settings (written in
    AA-BiGAN's terms: ``epochs``, ``width``, ...) set -- what the method really runs, and what its rows
    record; it raises ValueError for a name the method does not know.  ``None``: the settings as given."""

    name: str
    display: str               # the name the paper's tables print
    build: Callable[[dict], object]
    uses_labels: bool          # trains on the collected anomalies (False: they are left out of X)
    per_epoch: bool            # reports under the epoch/score rules (a GAN) or once ("fixed")
    resolve: Callable[[dict], dict] | None = None
    by_epoch: bool = False     # a baseline that trains by epochs: reported under BASELINE_RULES

    estimator: type | None = None   # the class ``build`` returns (None: a method registered at run time)

    @property
    def is_aabigan(self) -> bool:
        """Whether the method trains this package's AA-BiGAN detector (whose models the runner can keep)."""
        return self.estimator is AABiGAN

    @property
    def needs_anomalies(self) -> bool:
        """Whether the method cannot train without collected anomalies (the supervised classifier, SS-DGM):
        a grid leaves it out of its gamma_l = 0 cells, as the paper's tables do."""
        return bool(getattr(self.estimator, "needs_anomalies", False))

    @property
    def rules(self) -> tuple[str, ...]:
        """The selection rules a finished run of this method has a row for."""
        return RULES if self.per_epoch else BASELINE_RULES if self.by_epoch else FIXED_RULES

    def params(self, settings: dict) -> dict:
        """The parameters the estimator is built with from ``settings`` (see the class docstring)."""
        return dict(settings) if self.resolve is None else self.resolve(dict(settings))

    def takes(self, name: str, value) -> bool:
        """Whether a setting ``name`` changes what this method runs (False: an AA-BiGAN setting it lacks)."""
        return name in self.params({name: value})


_AABIGAN_PARAMS = frozenset(AABiGAN().get_params())


def _aabigan_params(settings: dict) -> dict:
    unknown = sorted(set(settings) - _AABIGAN_PARAMS)
    if unknown:
        raise ValueError(f"AABiGAN has no setting {', '.join(map(repr, unknown))}; its settings: "
                         f"{', '.join(sorted(_AABIGAN_PARAMS))}")
    return settings


def _aabigan(settings: dict) -> AABiGAN:
    """AA-BiGAN from a profile's settings, on top of :data:`aabigan.profiles.RUNNER_BASE_SETTINGS` (the
    detector's defaults when the profiles were written, so that a later change of a default does not change
    what a profile's config runs under its hash)."""
    return AABiGAN(**{**RUNNER_BASE_SETTINGS, **_aabigan_params(settings)})


def make_resolver(cls, halve_width: bool = False, **fixed):
    """``resolve(settings)``: the parameters of ``cls`` that the settings set (see the module docstring),
    with the method's fixed arguments -- what the baseline runs and what its rows record."""
    names = frozenset(cls().get_params())

    def resolve(settings: dict) -> dict:
        kw = dict(fixed)
        for key, value in settings.items():
            if key in names:
                kw[key] = value
            elif key not in _AABIGAN_PARAMS:
                raise ValueError(f"{cls.__name__} has no setting {key!r}; its settings: {', '.join(sorted(names))}")
        if halve_width and "width" in settings and "width" in names:   # checked before it is halved
            width = check_integer(settings["width"], "width", low=1, what="a positive integer")
            kw["width"] = max(BASELINE_MIN_WIDTH, width // BASELINE_WIDTH_DIVISOR)
        return kw

    resolve.__name__ = f"resolve_{cls.__name__}"
    return resolve


def make_builder(cls, halve_width: bool = False, **fixed):
    """A ``build(settings)`` for the runner: ``cls`` with the parameters :func:`make_resolver` gives."""
    resolve = make_resolver(cls, halve_width, **fixed)

    def build(settings: dict):
        return cls(**resolve(settings))

    build.__name__ = f"build_{cls.__name__}"
    build.resolve = resolve
    return build


#: name -> (display name as the paper's tables print it, estimator, halve the width, fixed arguments)
_SPECS = {
    "ocsvm": ("OCSVM", OCSVM, True, {"features": "raw"}),
    "ocsvm-hybrid": ("OCSVM Hybrid", OCSVM, True, {"features": "hybrid"}),
    "deepsvdd": ("Deep SVDD", DeepSVDD, True, {}),
    "deepsad": ("Deep SAD", DeepSAD, True, {}),
    "cae": ("CAE", CAE, True, {}),
    "alad": ("ALAD", ALAD, False, {}),
    "ssad": ("SSAD Raw", SSAD, True, {"features": "raw"}),
    "ssad-hybrid": ("SSAD Hybrid", SSAD, True, {"features": "hybrid"}),
    "ssdgm": ("SS-DGM", SSDGM, True, {}),
    "supervised": ("Supervised Classifier", SupervisedClassifier, True, {}),
    "nda": ("NDA", NDA, False, {}),
    "aad": ("AAD", AAD, False, {}),
}

def _baseline(name: str, display: str, cls, halve: bool, fixed: dict) -> Method:
    """A baseline's method: it trains on the collected anomalies as its class says (``uses_labels``); one that
    trains by epochs reports the epoch rules, OCSVM / SSAD (their hybrids' autoencoder is a pretraining, no
    main stage) and AAD report once."""
    build = make_builder(cls, halve, **fixed)
    return Method(name, display, build, uses_labels=bool(cls.uses_labels), per_epoch=False, resolve=build.resolve,
                  by_epoch=cls.trains_by_epochs, estimator=cls)


METHODS: dict[str, Method] = {
    "aabigan": Method("aabigan", "AA-BiGAN", _aabigan, uses_labels=True, per_epoch=True, resolve=_aabigan_params,
                      estimator=AABiGAN),
    # the same network and objective without the collected anomalies (the unsupervised reading, gamma_l = 0)
    "aabigan-unsup": Method("aabigan-unsup", "AA-BiGAN without collected anomalies", _aabigan,
                            uses_labels=False, per_epoch=True, resolve=_aabigan_params, estimator=AABiGAN),
    **{name: _baseline(name, *spec) for name, spec in _SPECS.items()},
}
#: the methods defined here (worker processes and Dask workers know them; not those of register_method)
BUILT_IN_METHODS = frozenset(METHODS)
#: name -> (display name as the paper's tables print it, builder, uses the collected anomalies), for the book
BASELINE_METHODS = MappingProxyType({n: (m.display, m.build, m.uses_labels) for n, m in METHODS.items()
                                     if not m.is_aabigan})


def register_method(method: Method) -> None:
    """Make a method available to configs and grids by name."""
    METHODS[method.name] = method


