"""Shared test set-up: one CPU thread (the test machine has two shared cores) and the data folder."""
from __future__ import annotations

import os
from pathlib import Path

import torch

torch.set_num_threads(1)

# The benchmark data live next to the repository (../shared/data) unless AABIGAN_DATA says otherwise.
if not os.environ.get("AABIGAN_DATA"):
    os.environ["AABIGAN_DATA"] = str(Path(__file__).resolve().parents[2] / "shared" / "data")
