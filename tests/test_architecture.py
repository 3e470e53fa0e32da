"""The core's import discipline (issue 13): no import cycle between dmzbench's modules, and every import made inside a
function says why on its own line or the line before it (or before the block of imports it is in) (a lazy import is a choice: torch-free listing, an optional
dependency, a slow library only one command needs), so that a cycle is never silently papered over."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "dmzbench"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dmzbench modules an import statement loads (the module itself, or submodules named in a from-import)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    return sorted({n for n in names if n in MODULES and n != "dmzbench"})


def _imports(function_level: bool) -> dict[str, list[tuple[str, int]]]:
    """module -> [(imported dmzbench module, line)], of the imports at module level or inside functions."""
    graph: dict[str, list[tuple[str, int]]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        inside: set[int] = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inside |= {id(n) for n in ast.walk(fn) if n is not fn}
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in
                       ast.unparse(node.test) for n in ast.walk(node)}
        edges = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and (id(node) in inside) == function_level:
                if id(node) not in typing_only:
                    edges += [(t, node.lineno) for t in _targets(node, module, path.name == "__init__.py")]
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or any(t == v for t, _ in graph.get(v, [])):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_modules_are_found():
    assert {"dmzbench.run.runner", "dmzbench.run.checkpoints", "dmzbench.run.features", "dmzbench.workspace",
            "dmzbench.board.page", "dmzbench.board.html_page", "dmzbench.suite.catalog", "dmzbench.cli.app",
            "dmzbench.data"} <= set(MODULES)


def test_no_import_cycle_at_module_level():
    assert _cycles(_imports(function_level=False)) == []


def test_the_html_page_receives_tables_and_does_not_import_the_leaderboard_back():
    imported = {t for t, _ in _imports(False)["dmzbench.board.html_page"] + _imports(True)["dmzbench.board.html_page"]}
    assert "dmzbench.board.page" not in imported


def test_every_function_level_import_says_why():
    missing = []
    for path in MODULES.values():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines), str(path))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    same = "#" in lines[node.end_lineno - 1] or "#" in lines[node.lineno - 1]
                    above = node.lineno - 2  # the line before, or before the block of imports this one is in
                    while above >= 0 and (lines[above].strip().startswith(("import ", "from ")) or not lines[above].strip()):
                        above -= 1
                    if not (same or (above >= 0 and lines[above].strip().startswith("#"))):
                        missing.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not missing, "function-level imports without a reason comment:\n" + "\n".join(sorted(set(missing)))


def test_the_core_names_no_built_in_model_task_or_data_set():
    """Built-in names live in data: the data-set modules (dmzbench/data/), the suites' lists (suite/catalog.py) and the pinned
    feature spaces' provenance (the data set a feature network was trained on). The orchestration, CLI, leaderboard and
    metrics code reach built-ins through the registry and their declarations."""
    import re

    allowed = {"dmzbench/suite/catalog.py", "dmzbench/metrics/features.py:PinnedSpace("}
    found = []
    for path in MODULES.values():
        rel = path.relative_to(ROOT.parent).as_posix()
        if rel.startswith("dmzbench/data/") or rel in allowed:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"fashion-mnist|\"dmz\"|'dmz'", line) and not any(
                    a.startswith(rel + ":") and a.split(":", 1)[1] in line for a in allowed):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def _folder_listing_in_the_doc() -> set[str]:
    """The entries of the fenced block after "The folder listing" in docs/architecture.md, as paths under dmzbench/
    (a folder ends with "/"), read from their indentation."""
    text = (ROOT.parent / "docs" / "architecture.md").read_text()
    block = text[text.index("The folder listing"):].split("```", 2)[1]
    entries: set[str] = set()
    stack: list[tuple[int, str]] = []  # (indent, folder) of the folders above the current line
    for line in block.splitlines()[1:]:
        if not line.strip():
            continue
        assert "#" in line or line.strip() == "dmzbench/", f"an entry without its comment: {line!r}"
        name = line.split("#", 1)[0].strip()
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "".join(folder for _, folder in stack) + name
        entries.add(path)
        if name.endswith("/"):
            stack.append((indent, name))
    return entries


def _folder_listing_on_disk() -> set[str]:
    """dmzbench/, each entry in it and each entry of its folders (their __init__.py aside), one level down."""
    def shown(p: Path) -> bool:
        return p.name != "__pycache__" and not p.name.startswith(".")

    entries = {"dmzbench/"}
    for p in ROOT.iterdir():
        if not shown(p):
            continue
        entries.add(f"dmzbench/{p.name}/" if p.is_dir() else f"dmzbench/{p.name}")
        if p.is_dir():
            entries |= {f"dmzbench/{p.name}/{q.name}/" if q.is_dir() else f"dmzbench/{p.name}/{q.name}"
                        for q in p.iterdir() if shown(q) and q.name != "__init__.py"}
    return entries


def test_the_folder_listing_in_the_architecture_doc_is_the_tree():
    doc, disk = _folder_listing_in_the_doc(), _folder_listing_on_disk()
    assert doc == disk, (f"docs/architecture.md's folder listing differs from dmzbench/: only in the doc "
                         f"{sorted(doc - disk)}, only on disk {sorted(disk - doc)}")


def test_every_dmzbench_path_the_docs_name_exists():
    """Every dmzbench/... file or folder path named in the README, docs/*.md, CONTRIBUTING.md and leaderboards/README.md
    exists (a module moved without its docs following fails here)."""
    import re

    repo = ROOT.parent
    docs = [repo / "README.md", repo / "CONTRIBUTING.md", repo / "leaderboards" / "README.md",
            *sorted((repo / "docs").glob("*.md"))]
    missing = []
    for doc in docs:
        if not doc.exists():
            continue
        for n, line in enumerate(doc.read_text().splitlines(), 1):
            for path in re.findall(r"(?<![\w/.-])dmzbench/[\w./-]*[\w/]", line):
                if not (repo / path).exists():
                    missing.append(f"{doc.relative_to(repo)}:{n}: {path}")
    assert not missing, "paths the docs name that do not exist:\n" + "\n".join(missing)
