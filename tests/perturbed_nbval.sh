#!/usr/bin/env bash
# Re-run chapters under `pytest --nbval` with every numeric library on other CPU kernels than the ones that
# wrote the committed outputs: PyTorch's scalar ATen kernels, MKL (PyTorch's BLAS) and oneDNN (its
# convolutions) held to SSE4, OpenBLAS (NumPy's and SciPy's) on its Nehalem kernels.  Training then ends on
# other numbers in the last digits and beyond, as it does on another machine; an output that nbval compares
# must not change (derivation checks, tables from committed rows), a number from training is asserted in
# its cell with a tolerance and its output is not compared (tag `nbval-ignore-output`).  Usage:
#     bash tests/perturbed_nbval.sh [PYTEST-OPTION ...] [NOTEBOOK ...]   # no notebook: every chapter in book/
# The chapters pin PyTorch to one thread, so a different thread count would perturb nothing more.
set -euo pipefail
cd "$(dirname "$0")/.."
export ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 ONEDNN_MAX_CPU_ISA=SSE41 OPENBLAS_CORETYPE=Nehalem
paths=0
for arg in "$@"; do case "$arg" in -*) ;; *) paths=1 ;; esac; done
if [ "$paths" -eq 0 ]; then set -- "$@" book/; fi    # options only: every chapter, never the unit tests
exec "${PYTHON:-.venv/bin/python}" -m pytest --nbval "$@"
