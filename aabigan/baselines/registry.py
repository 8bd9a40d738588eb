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
from .aad import AAD
from .alad import ALAD
from .autoencoder import CAE
from .deep_svdd import DeepSAD, DeepSVDD
from .kernel import OCSVM, SSAD
from .nda import NDA
from .ssdgm import SSDGM
from .supervised import SupervisedClassifier

__all__ = ["BASELINE_METHODS", "make_builder"]

_AABIGAN_SETTINGS = frozenset(AABiGAN().get_params())


def make_builder(cls, halve_width: bool = False, **fixed):
    """A ``build(settings)`` for the runner: maps the settings the estimator has, see the module docstring."""
    names = frozenset(cls().get_params())

    def build(settings: dict):
        kw = {}
        for key, value in settings.items():
            if key in names:
                kw[key] = value
            elif key not in _AABIGAN_SETTINGS:
                raise ValueError(f"{cls.__name__} has no setting {key!r}; its settings: {', '.join(sorted(names))}")
        if halve_width and "width" in kw:
            kw["width"] = max(4, int(kw["width"]) // 2)
        return cls(**{**fixed, **kw})

    build.__name__ = f"build_{cls.__name__}"
    return build


#: name -> (display name as the paper's tables print it, builder, uses the collected anomalies)
BASELINE_METHODS = {
    "ocsvm": ("OCSVM", make_builder(OCSVM, True, features="raw"), False),
    "ocsvm-hybrid": ("OCSVM Hybrid", make_builder(OCSVM, True, features="hybrid"), False),
    "deepsvdd": ("Deep SVDD", make_builder(DeepSVDD, True), False),
    "deepsad": ("Deep SAD", make_builder(DeepSAD, True), True),
    "cae": ("CAE", make_builder(CAE, True), False),
    "alad": ("ALAD", make_builder(ALAD), False),
    "ssad": ("SSAD Raw", make_builder(SSAD, True, features="raw"), True),
    "ssad-hybrid": ("SSAD Hybrid", make_builder(SSAD, True, features="hybrid"), True),
    "ssdgm": ("SS-DGM", make_builder(SSDGM, True), True),
    "supervised": ("Supervised Classifier", make_builder(SupervisedClassifier, True), True),
    "nda": ("NDA", make_builder(NDA), True),
    "aad": ("AAD", make_builder(AAD), True),
}

for _name, (_display, _build, _uses) in BASELINE_METHODS.items():
    register_method(Method(_name, _display, _build, uses_labels=_uses, per_epoch=False))
