"""Shared test helpers (imported by the test modules; pytest puts tests/ on the path)."""
import numpy as np


class MeanDistance:
    """A tiny detector for runner tests: distance to the mean of the unlabelled samples.  Settings
    ``explode`` and ``interrupt`` make its fit fail; ``fits`` counts the fits of the class."""

    fits = 0

    def __init__(self, **settings):
        self.settings = settings

    def fit(self, X, y=None):
        if self.settings.get("explode"):
            raise FloatingPointError("exploded on purpose")
        if self.settings.get("interrupt"):
            raise KeyboardInterrupt
        type(self).fits += 1
        self.mu_ = X[np.asarray(y) == 0].mean(0)
        return self

    def decision_function(self, X):
        return np.linalg.norm(X - self.mu_, axis=1)
