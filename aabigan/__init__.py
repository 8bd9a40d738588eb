"""aabigan: anomaly-aware bidirectional GANs (Tian, Su & Yin, IJCAI 2022), a book and a package."""
__version__ = "0.1.0"

from .detector import AABiGAN, NotFittedError, ShortFitWarning  # noqa: E402

__all__ = ["AABiGAN", "NotFittedError", "ShortFitWarning", "__version__"]
