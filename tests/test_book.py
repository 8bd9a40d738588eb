"""Static checks of the book: configuration, chapter structure, the one repository address, references.

Fast (no notebook is executed here; `pytest --nbval book/` re-runs the chapters). The repository's address
is written once, in _config.yml; a notebook opened on Colab cannot read that file, so each chapter's
install cell repeats it, pinned to the release tag of the package version (``v`` + ``aabigan.__version__``),
and this test keeps the copies equal to the original.  A chapter finds the committed results through
``aabigan.paths`` (a checkout's ``results/`` or the copy in the installed package), never by walking up from
the working directory, so that it runs from an empty folder on Colab (tests/test_wheel.py runs one so).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
REPO_URL = CONFIG["repository"]["url"]
VERSION = re.search(r'^__version__ = "([^"]+)"$', (ROOT / "aabigan" / "__init__.py").read_text(), flags=re.M)[1]
#: what every chapter's Colab cell installs: the configured repository at the tag of this package version
INSTALL_SPEC = f"aabigan @ git+{REPO_URL}@v{VERSION}"


def _toc_files() -> list[str]:
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CHAPTERS = [p for p in NOTEBOOKS]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _all_sources() -> dict[str, str]:
    """Every markdown text of the book: chapter markdown cells and the .md pages."""
    out = {p.name: _markdown(_read(p)) for p in NOTEBOOKS}
    out |= {p.name: p.read_text() for p in BOOK.glob("*.md")}
    return out


def test_book_folder_uses_the_top_level_configuration():
    # `jupyter-book build book/` looks for book/_config.yml and book/_toc.yml: they must be the top-level files
    for name in ("_config.yml", "_toc.yml"):
        assert (BOOK / name).resolve() == (ROOT / name).resolve(), f"book/{name} must point to ../{name}"


def test_configuration_essentials():
    assert CONFIG["execute"]["execute_notebooks"] in ("force", "cache")
    assert CONFIG["execute"]["timeout"] == 300
    assert "sphinx_proof" in CONFIG["sphinx"]["extra_extensions"]
    assert {"amsmath", "dollarmath"} <= set(CONFIG["parse"]["myst_enable_extensions"])
    assert CONFIG["launch_buttons"]["colab_url"].startswith("https://colab.research.google.com")
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", REPO_URL)
    for bib in CONFIG["bibtex_bibfiles"]:
        assert (BOOK / bib).is_file(), bib


def test_toc_and_files_agree():
    listed = _toc_files()
    for name in listed:
        assert (BOOK / f"{name}.ipynb").is_file() or (BOOK / f"{name}.md").is_file(), f"{name} is in the toc only"
    for path in [*NOTEBOOKS, *BOOK.glob("*.md")]:
        assert path.stem in listed, f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_structure(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.match(r"# \S", first.source), "first cell: a markdown '# Title'"
    headings = re.findall(r"^## (.+)$", _markdown(nb), flags=re.M)
    assert headings[-2:] == ["Summary", "Exercises"], "each chapter closes with Summary and Exercises"
    for cell in nb.cells:
        if cell.cell_type == "code":
            n = len(cell.source.splitlines())
            assert n <= 16, f"{path.name}: a {n}-line cell: {cell.source.splitlines()[0]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_install_cell_uses_the_configured_repository(path):
    code = [c for c in _read(path).cells if c.cell_type == "code"]
    install = code[0].source
    assert '"google.colab" in sys.modules' in install
    pips = [line.strip() for line in install.splitlines() if "pip install" in line]
    assert pips == [f'%pip install --quiet "{INSTALL_SPEC}"'], (
        f"{path.name}: the install cell must install {INSTALL_SPEC!r}: _config.yml's repository url at the tag of "
        f"the package version, found {pips}")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_find_committed_files_through_the_package(path):
    """No chapter looks for results/ or benchmarks/ relative to the working directory (there is none on Colab)."""
    code = "\n".join(c.source for c in _read(path).cells if c.cell_type == "code")
    walks = (r"Path\.cwd\(\)", r"os\.getcwd\(\)", r"\.parents\b", r"[\"']\.\./", r"[\"'](?:results|benchmarks)[/\"']")
    for pattern in walks:
        assert not re.search(pattern, code), f"{path.name}: {pattern} -- use aabigan.paths.results_dir()"


def test_repository_address_is_written_nowhere_else():
    for name, text in _all_sources().items():
        for url in re.findall(r"https?://github\.com/[\w./-]+", text):
            assert url.rstrip("/.") == REPO_URL, f"{name} names another repository address: {url}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_outputs(path):
    """The chapters are committed executed, without errors, and every glued key quoted in the text exists."""
    nb = _read(path)
    glued = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, f"unexecuted cell in {path.name}:\n{cell.source[:200]}"
        for out in cell.outputs:
            assert out.output_type != "error", f"{path.name} holds an error output"
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                glued.add(name)
    quoted = set(re.findall(r"\{glue:text\}`([^`:]+)", _markdown(nb)))
    assert quoted <= glued, f"{path.name} quotes glue keys it never glues: {sorted(quoted - glued)}"


def test_equation_and_citation_references_resolve():
    texts = _all_sources()
    labels = {m for t in texts.values() for m in re.findall(r"^\$\$ \((eq-[\w-]+)\)", t, flags=re.M)}
    refs = {m for t in texts.values() for m in re.findall(r"\{eq\}`([\w-]+)`", t)}
    assert refs <= labels, f"unknown equation labels: {sorted(refs - labels)}"
    bib = (ROOT / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([\w-]+),", bib))
    cited = {k.strip() for t in texts.values() for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", t)
             for k in group.split(",")}
    assert cited <= keys, f"citations missing from references.bib: {sorted(cited - keys)}"
