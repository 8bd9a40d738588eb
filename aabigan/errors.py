"""Errors with a name of their own, so that callers (and the runner) can tell them apart."""


class DataNotFoundError(FileNotFoundError):
    """A data file is missing and could not be downloaded."""


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite during training."""
