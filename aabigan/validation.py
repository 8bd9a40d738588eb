"""Input checks shared by the detector, the baselines, the split builder and the trainer.

Bad input raises an error that names the problem; nothing is silently coerced into NaN or a wrong answer.
The checks lean on scikit-learn's own (``check_array``, ``check_scalar``) and keep messages that name the
parameter.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils import check_array, check_scalar

__all__ = ["check_X", "check_y", "check_fraction", "check_positive", "check_integer", "check_random_state",
           "FLOAT32_MAX"]

#: the largest finite float32: the models compute in float32, so a larger |x| would become inf
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_integer(value, name: str, low: int | None = None, high: int | None = None, what: str = "an integer") -> int:
    """An integer (a Python or NumPy integer; not a bool, a float such as 1.7 or 2.0, nor a string) in
    [low, high]; TypeError or ValueError naming ``name`` otherwise."""
    if not _is_integer(value):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    try:
        check_scalar(value, name, numbers.Integral, min_val=low, max_val=high)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {value!r}") from None
    return int(value)


def check_positive(value, name: str, integer: bool = False, allow_zero: bool = False) -> float | int:
    """A positive (or, with ``allow_zero``, non-negative) finite number, or with ``integer`` an integer
    (1.7, 2.0, True and '3' are errors, not 1, 2, 1 and 3); raise naming the parameter otherwise."""
    sign = "non-negative" if allow_zero else "positive"
    if integer:
        return check_integer(value, name, low=0 if allow_zero else 1, what=f"a {sign} integer")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a {sign} number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or not (v >= 0 if allow_zero else v > 0):
        raise ValueError(f"{name} must be a {sign} finite number, got {value!r}")
    return v


def check_random_state(value, name: str = "random_state") -> int | None:
    """None (a fresh seed in each fit) or an integer seed in [0, 2**32 - 1] (NumPy integers too)."""
    if value is None:
        return None
    return check_integer(value, name, 0, 2**32 - 1, what="None or an integer seed in [0, 2**32 - 1]")


def check_X(X, name: str = "X", min_samples: int = 1, n_features: tuple[int, ...] | None = None) -> np.ndarray:
    """Return X as a float32 array of shape (n, d) or (n, C, H, W); raise ValueError naming the problem.

    Rejected: non-numeric or complex dtypes, other ranks, fewer than ``min_samples`` samples, samples with
    no features, NaN or inf, and values beyond float32's range (|x| > 3.4e38), which would become inf in
    the models' float32 arithmetic.
    """
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
    try:   # scikit-learn's check for samples without features, on the (n, prod(sample shape)) view
        check_array(X.reshape(X.shape[0], int(np.prod(X.shape[1:]))), dtype=None, ensure_min_samples=0,
                    ensure_min_features=1, **{_FINITE_KW: False})
    except ValueError as exc:
        raise ValueError(f"{name} has samples of shape {tuple(X.shape[1:])}, with no feature: {exc}") from None
    if X.dtype.kind == "f":
        finite = np.isfinite(X)
        if not finite.all():
            raise ValueError(f"{name} contains {int(np.sum(~finite))} non-finite value(s) (NaN or inf)")
        if X.dtype.itemsize > 4:
            big = np.abs(X) > FLOAT32_MAX
            if big.any():
                raise ValueError(
                    f"{name} contains {int(big.sum())} value(s) beyond float32's range (|x| > {FLOAT32_MAX:.3g}; "
                    f"the largest is {float(np.abs(X).max()):.3g}), which overflow float32, the precision the "
                    "models compute in; rescale the data (e.g. standardise it)")
    X = X.astype(np.float32, copy=False)
    if n_features is not None and tuple(X.shape[1:]) != tuple(n_features):
        raise ValueError(f"{name} has samples of shape {tuple(X.shape[1:])}, but the model was fitted on "
                         f"samples of shape {tuple(n_features)}")
    return X


def _finite_keyword() -> str:
    import inspect

    params = inspect.signature(check_array).parameters
    return "ensure_all_finite" if "ensure_all_finite" in params else "force_all_finite"   # scikit-learn < 1.6


_FINITE_KW = _finite_keyword()


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


def check_fraction(value: float, name: str, low: float = 0.0, high: float = 1.0, inclusive_high=True,
                   inclusive_low=True) -> float:
    """A real number (not a string or a bool) in [low, high] (the ends open as asked); NaN is rejected."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    ok = (low <= v if inclusive_low else low < v) and (v <= high if inclusive_high else v < high)
    if not math.isfinite(v) or not ok:
        raise ValueError(f"{name} must lie in {'[' if inclusive_low else '('}{low}, {high}"
                         f"{']' if inclusive_high else ')'}, got {value!r}")
    return v
