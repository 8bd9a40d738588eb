"""The baselines as named methods of the experiment runner: defined in :mod:`aabigan.methods`, re-exported here
for the code that imported them from this module.  Importing :mod:`aabigan.baselines` does not import this
module: the estimators know nothing of the runner."""
from ..methods import BASELINE_METHODS, make_builder, make_resolver

__all__ = ["BASELINE_METHODS", "make_builder", "make_resolver"]
