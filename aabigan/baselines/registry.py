"""The baselines as named methods of the experiment runner (:data:`aabigan.experiments.METHODS`).

Each ``build(settings)`` takes the profile's settings, which are written for AA-BiGAN (``epochs``,
``batch_size``, ``neg_batch_size``, ``width``, ...), plus a config's overrides.  A setting the baseline
has is passed on; one of AA-BiGAN's that it lacks is ignored; any other name is an error (a typo in an
override must not pass silently).  The networks of Deep SAD's family (Deep SVDD, Deep SAD, CAE, the
hybrid autoencoders, the supervised classifier, SS-DGM) take half the DCGAN ``width``: the paper
profile's width 64 gives Deep SAD's CIFAR-10 LeNet, 32-64-128 channels.  ``epochs`` sets every
training stage of a method (for Deep SVDD / Deep SAD: the pretraining and the main training each).
"""
from __future__ import annotations

from ..detector import AABiGAN
from ..experiments import Method, register_method
from ..validation import check_integer
from .aad import AAD
from .alad import ALAD
from .autoencoder import CAE
from .deep_svdd import DeepSAD, DeepSVDD
from .kernel import OCSVM, SSAD
from .nda import NDA
from .ssdgm import SSDGM
from .supervised import SupervisedClassifier

__all__ = ["BASELINE_METHODS", "make_builder", "make_resolver"]

_AABIGAN_SETTINGS = frozenset(AABiGAN().get_params())


def make_resolver(cls, halve_width: bool = False, **fixed):
    """``resolve(settings)``: the parameters of ``cls`` that the settings set (see the module docstring),
    with the method's fixed arguments -- what the baseline runs and what its rows record."""
    names = frozenset(cls().get_params())

    def resolve(settings: dict) -> dict:
        kw = dict(fixed)
        for key, value in settings.items():
            if key in names:
                kw[key] = value
            elif key not in _AABIGAN_SETTINGS:
                raise ValueError(f"{cls.__name__} has no setting {key!r}; its settings: {', '.join(sorted(names))}")
        if halve_width and "width" in settings and "width" in names:   # checked before it is halved
            kw["width"] = max(4, check_integer(settings["width"], "width", low=1, what="a positive integer") // 2)
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


#: name -> (display name as the paper's tables print it, estimator, halve the width, fixed arguments,
#: uses the collected anomalies)
_SPECS = {
    "ocsvm": ("OCSVM", OCSVM, True, {"features": "raw"}, False),
    "ocsvm-hybrid": ("OCSVM Hybrid", OCSVM, True, {"features": "hybrid"}, False),
    "deepsvdd": ("Deep SVDD", DeepSVDD, True, {}, False),
    "deepsad": ("Deep SAD", DeepSAD, True, {}, True),
    "cae": ("CAE", CAE, True, {}, False),
    "alad": ("ALAD", ALAD, False, {}, False),
    "ssad": ("SSAD Raw", SSAD, True, {"features": "raw"}, True),
    "ssad-hybrid": ("SSAD Hybrid", SSAD, True, {"features": "hybrid"}, True),
    "ssdgm": ("SS-DGM", SSDGM, True, {}, True),
    "supervised": ("Supervised Classifier", SupervisedClassifier, True, {}, True),
    "nda": ("NDA", NDA, False, {}, True),
    "aad": ("AAD", AAD, False, {}, True),
}

#: name -> (display name as the paper's tables print it, builder, uses the collected anomalies)
BASELINE_METHODS = {name: (display, make_builder(cls, halve, **fixed), uses)
                    for name, (display, cls, halve, fixed, uses) in _SPECS.items()}

for _name, (_display, _build, _uses) in BASELINE_METHODS.items():
    # an estimator that trains by epochs reports the epoch rules; OCSVM / SSAD (their hybrids' autoencoder is a
    # pretraining, no main stage) and AAD report once
    register_method(Method(_name, _display, _build, uses_labels=_uses, per_epoch=False, resolve=_build.resolve,
                           by_epoch=_SPECS[_name][1].trains_by_epochs))
