"""Input checks shared by the detector, the split builder and the trainer.

Bad input raises an error that names the problem; nothing is silently coerced into NaN or a wrong answer.
"""
from __future__ import annotations

import numpy as np

__all__ = ["check_X", "check_y", "check_fraction"]


def check_X(X, name: str = "X", min_samples: int = 1, n_features: tuple[int, ...] | None = None) -> np.ndarray:
    """Return X as a float32 array of shape (n, d) or (n, C, H, W); raise ValueError naming the problem."""
    if hasattr(X, "detach"):  # a torch tensor
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {X.dtype}")
    if np.iscomplexobj(X):
        raise TypeError(f"{name} must be real-valued, got dtype {X.dtype}")
    if X.ndim not in (2, 4):
        raise ValueError(f"{name} must be 2-D (n_samples, n_features) or 4-D (n_samples, channels, 32, 32); "
                         f"got shape {X.shape}")
    if X.shape[0] < min_samples:
        raise ValueError(f"{name} has {X.shape[0]} samples; at least {min_samples} are needed")
    X = X.astype(np.float32, copy=False)
    if not np.all(np.isfinite(X)):
        bad = int(np.sum(~np.isfinite(X)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    if n_features is not None and tuple(X.shape[1:]) != tuple(n_features):
        raise ValueError(f"{name} has samples of shape {tuple(X.shape[1:])}, but the model was fitted on "
                         f"samples of shape {tuple(n_features)}")
    return X


def check_y(y, n: int, name: str = "y") -> np.ndarray:
    """Return y as an int64 vector of 0/1 of length n; raise ValueError otherwise."""
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels for {n} samples")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains non-finite labels")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"{name} must contain only 0 (unlabelled) and 1 (collected anomaly); got values "
                         f"{sorted(values)[:10]}")
    return y.astype(np.int64)


def check_fraction(value: float, name: str, low: float = 0.0, high: float = 1.0, inclusive_high=True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    ok = low <= v <= high if inclusive_high else low <= v < high
    if not np.isfinite(v) or not ok:
        raise ValueError(f"{name} must lie in [{low}, {high}{']' if inclusive_high else ')'}, got {value!r}")
    return v
