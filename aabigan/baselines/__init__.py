"""The paper's baselines behind AA-BiGAN's detector contract, run by us on the same splits and seeds.

    from aabigan.baselines import DeepSAD
    det = DeepSAD(epochs=50, random_state=0).fit(X, y)   # y = 1 for a collected anomaly, 0 unlabelled
    det.decision_function(X_new)                         # higher = more anomalous

| class | paper column | uses collected anomalies |
|---|---|---|
| :class:`OCSVM` (``features="raw"`` / ``"hybrid"``) | OCSVM / OCSVM Hybrid | no |
| :class:`DeepSVDD` | Deep SVDD | no |
| :class:`CAE` | CAE | no |
| :class:`ALAD` | ALAD | no |
| :class:`DeepSAD` | Deep SAD | yes |
| :class:`SSAD` (``features="raw"`` / ``"hybrid"``) | SSAD Raw / SSAD Hybrid | yes |
| :class:`SSDGM` | SS-DGM | yes |
| :class:`SupervisedClassifier` | Supervised Classifier | yes |
| :class:`NDA` | NDA | yes |
| :class:`AAD` | AAD | yes |

Each class's docstring says what it assumes, how it uses the collected anomalies and where it differs
from the original.  The experiment runner knows them as the methods ``ocsvm``, ``ocsvm-hybrid``,
``deepsvdd``, ``deepsad``, ``cae``, ``alad``, ``ssad``, ``ssad-hybrid``, ``ssdgm``, ``supervised``, ``nda``,
``aad`` (:mod:`aabigan.methods`); the estimators import nothing of the runner.
"""
from ._base import BaseDetector
from .aad import AAD
from .alad import ALAD
from .autoencoder import CAE
from .deep_svdd import DeepSAD, DeepSVDD
from .kernel import OCSVM, SSAD
from .nda import NDA
from .ssdgm import SSDGM
from .supervised import SupervisedClassifier

__all__ = ["BaseDetector", "OCSVM", "SSAD", "DeepSVDD", "DeepSAD", "CAE", "ALAD", "SSDGM", "SupervisedClassifier",
           "NDA", "AAD"]
