"""The package as a user installs it: build the wheel, install it into a fresh virtual environment, and run
reproduction chapters (10 and 12: committed rows, the paper's tables, the saved models, the image data) from an
empty directory, offline, with ``AABIGAN_DATA`` set -- as on Colab, where there is no checkout.

The wheel must hold every module of the package and every committed file a chapter reads (``results/`` as
``aabigan/results``, the speed reports of ``benchmarks/`` as ``aabigan/benchmarks``; see pyproject.toml).
The fresh environment gets the heavy dependencies (torch, numpy, jupyter, ...) of the test's own
environment through a ``.pth`` line, without downloading anything; that line adds a folder to ``sys.path``
without running the ``.pth`` files in it, so the editable install of this checkout stays invisible and
``import aabigan`` finds the wheel's copy -- which the chapter's last, added, cell reports and the test
asserts.  Under a minute.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: reproduction chapters: committed rows, the paper's tables, the saved models (10) and the image data (both)
CHAPTERS = [ROOT / "book" / "10_images.ipynb", ROOT / "book" / "12_anomaly_types.ipynb"]

#: an address no download can reach: the chapter must not need the network
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": "",
           "PIP_NO_INDEX": "1"}


def _run(cmd, **kwargs):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _committed(folder: str) -> list[str]:
    """The files under ``folder`` that git tracks (all files there when this is not a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True)
        files = out.stdout.split()
    except (OSError, subprocess.CalledProcessError):
        files = []
    return files or [str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline from a clean copy of the sources (no stale build/ folder, nothing written here)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("aabigan", "results", "benchmarks"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.part"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", out, src], env={**os.environ, **OFFLINE})
    (path,) = out.glob("aabigan-*.whl")
    return path


def test_wheel_holds_the_package_and_the_committed_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "aabigan").rglob("*.py")}
    assert not modules - names, f"modules missing from the wheel (list their package in pyproject.toml): " \
                                f"{sorted(modules - names)}"
    expected = {"aabigan/" + f for f in _committed("results")}
    expected |= {"aabigan/" + f for f in _committed("benchmarks") if f.endswith(".json")}
    assert any(f.startswith("aabigan/results/paper/") for f in expected)
    assert not expected - names, f"committed files missing from the wheel: {sorted(expected - names)}"


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> tuple[Path, Path]:
    """A fresh virtual environment with the wheel installed: its folder and its site-packages."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--clear", "--without-pip", venv])
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "outer-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
         env={**os.environ, **OFFLINE})
    return venv, site


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_from_the_wheel_in_an_empty_directory(venv, chapter, tmp_path):
    (venv, site), work = venv, tmp_path / "work"
    python = venv / "bin" / "python"
    work.mkdir()
    nb = nbformat.read(chapter, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json, aabigan, aabigan.paths, aabigan.tables\n"
        "print(json.dumps({'package': aabigan.__file__, 'results': str(aabigan.paths.results_dir()),\n"
        "                  'paper': str(aabigan.tables.paper_dir())}))"))
    nbformat.write(nb, work / chapter.name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AABIGAN_RESULTS", "VIRTUAL_ENV")}
    env.update(OFFLINE, PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", MPLBACKEND="Agg",
               AABIGAN_DATA=os.environ["AABIGAN_DATA"], AABIGAN_PROFILE="smoke", HOME=str(tmp_path),
               JUPYTER_PATH="", JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter"))
    # nbclient in the fresh environment: its kernel is that environment's python, its cwd the empty folder
    _run([python, "-c", "import sys, nbclient, nbformat\n"
                        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
                        "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3').execute(cwd='.')\n"
                        "nbformat.write(nb, sys.argv[1])", chapter.name], cwd=work, env=env)

    executed = nbformat.read(work / chapter.name, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    where = json.loads(executed.cells[-1].outputs[-1]["text"])
    installed = site / "aabigan"
    assert Path(where["package"]).parent == installed, where       # the wheel, not the checkout
    assert Path(where["results"]) == installed / "results", where   # its packaged results
    assert Path(where["paper"]) == installed / "results" / "paper", where
    assert sorted(p.name for p in work.iterdir()) == [chapter.name], "the chapter wrote into its working folder"
