"""The package's layout (issue 16): no import cycle among its modules, and estimators that know nothing of
the runner."""
import ast
import subprocess
import sys
from pathlib import Path

import aabigan

ROOT = Path(aabigan.__file__).parent


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The aabigan modules a file imports at its top level (imports inside functions are deferred)."""
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.startswith("aabigan"):
                out.add(base)
                out.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("aabigan"))
    return out


def test_no_import_cycle():
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    for m, deps in graph.items():      # importing a.b imports the package a first
        graph[m] = deps | {d.rpartition(".")[0] for d in deps if d.rpartition(".")[0] in modules} - {m}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == "open" and not m.startswith(d + "."):   # a package importing its own submodule
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_estimators_import_nothing_of_the_runner():
    code = ("import sys, aabigan.baselines, aabigan.detector; "
            "print(sorted(m for m in sys.modules if m in ('aabigan.experiments', 'aabigan.methods', 'aabigan.store')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
