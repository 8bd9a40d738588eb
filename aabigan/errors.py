"""Errors with a name of their own, so that callers (and the runner) can tell them apart."""


class DataNotFoundError(FileNotFoundError):
    """A data file is missing and could not be downloaded."""


class CorruptDataError(ValueError):
    """A data file is there but damaged: its checksum does not match, it is truncated, or it cannot be parsed.

    The message names the file and says what to do (delete it and download it again)."""


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite during training."""


class DegenerateScoresError(RuntimeError):
    """A fitted detector gave every training sample the same score, so it cannot rank anything."""
