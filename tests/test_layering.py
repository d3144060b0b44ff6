"""The house plan holds: every import in footage/ runs as docs/ARCHITECTURE.md's layers allow.

The contract is the `layers` block of docs/ARCHITECTURE.md, so the picture and the test cannot
drift apart. Every import counts: at module level, inside a function, under TYPE_CHECKING.

`python -m tests.test_layering` prints the figures (modules, imports, cycles, violations).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "footage"
DOC = ROOT / "docs" / "ARCHITECTURE.md"


@dataclass
class Contract:
    layer_of: dict[str, int] = field(default_factory=dict)  # room pattern -> layer number
    uses: dict[tuple[str, str], str] = field(default_factory=dict)  # feature -> feature: reason
    exceptions: dict[tuple[str, str], str] = field(default_factory=dict)  # module -> module

    def room(self, module: str) -> str | None:
        """The longest pattern that matches the module (`*` is one name), or None."""
        parts = module.split(".")
        best: str | None = None
        for pattern in self.layer_of:
            pat = pattern.split(".")
            fits = len(pat) <= len(parts) and all(
                p in ("*", m) for p, m in zip(pat, parts, strict=False)
            )
            if fits and (best is None or len(pat) > len(best.split("."))):
                best = pattern
        return best


def read_contract(text: str) -> Contract:
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/ARCHITECTURE.md has no ```layers block"
    contract = Contract()
    section, layer = "", 0
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            section = line.split()[0]
            if section == "layer":
                layer = int(line.split()[1])
            continue
        words = line.split()
        if section == "layer":
            contract.layer_of[words[0]] = layer
        elif section in ("features", "allowed"):
            assert words[1] == "->", f"expected `a -> b  reason`: {line!r}"
            target = contract.uses if section == "features" else contract.exceptions
            target[(words[0], words[2])] = " ".join(words[3:])
    return contract


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The footage modules this file imports, wherever the import statement stands."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "footage")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "footage":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) & modules for p in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def violations(graph: dict[str, set[str]], contract: Contract) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        here = contract.room(module)
        if here is None:
            problems.append(f"{module}: no line of the contract places it")
            continue
        for target in sorted(targets):
            there = contract.room(target)
            if there is None or there == here or (module, target) in contract.exceptions:
                continue
            mine, theirs = contract.layer_of[here], contract.layer_of[there]
            if theirs < mine:
                continue
            if theirs == mine and (mine != 3 or there == "footage.accounts"):
                continue  # within a layer (cycles are checked apart), or any feature → accounts
            if theirs == mine and (here, there) in contract.uses:
                continue
            problems.append(f"{module} -> {target}: {here} (layer {mine}) may not use {there}")
    return problems


def room_edges(graph: dict[str, set[str]], contract: Contract) -> set[tuple[str, str]]:
    edges = set()
    for module, targets in graph.items():
        for target in targets:
            a, b = contract.room(module), contract.room(target)
            if a and b and a != b:
                edges.add((a, b))
    return edges


def test_every_import_follows_the_documented_layers() -> None:
    contract = read_contract(DOC.read_text())
    assert violations(import_graph(), contract) == []


def test_no_module_imports_itself_round_a_loop() -> None:
    assert cycles(import_graph()) == []


def test_the_features_that_use_each_other_form_no_loop() -> None:
    contract = read_contract(DOC.read_text())
    graph: dict[str, set[str]] = {}
    for a, b in contract.uses:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    assert cycles(graph) == []


def test_every_documented_use_and_exception_is_still_real() -> None:
    """A line of the contract that no import needs any more is removed with the import."""
    contract = read_contract(DOC.read_text())
    graph = import_graph()
    used = room_edges(graph, contract)
    assert [edge for edge in contract.uses if edge not in used] == []
    imports = {(m, t) for m, targets in graph.items() for t in targets}
    assert [edge for edge in contract.exceptions if edge not in imports] == []


def test_the_contract_catches_an_upward_import() -> None:
    """The check itself: a foundation importing a feature, and a feature using one it may not."""
    contract = read_contract(DOC.read_text())
    graph = {
        "footage.clock": {"footage.sessions.finalizer"},
        "footage.sessions.finalizer": {"footage.heatmaps.store"},
        "footage.heatmaps.store": {"footage.clock"},
    }
    found = violations(graph, contract)
    assert any(p.startswith("footage.clock -> footage.sessions.finalizer") for p in found)
    assert any(p.startswith("footage.sessions.finalizer -> footage.heatmaps") for p in found)
    assert cycles(graph) == [sorted(graph)]


def figures() -> None:
    contract = read_contract(DOC.read_text())
    graph = import_graph()
    pairs = {tuple(sorted((a, b))) for a, ts in graph.items() for b in ts if a in graph.get(b, ())}
    print(f"modules: {len(graph)}, imports: {sum(len(t) for t in graph.values())}")
    print(f"import cycles: {len(cycles(graph))} {cycles(graph)}")
    print(f"modules importing each other: {len(pairs)} {sorted(pairs)}")
    found = violations(graph, contract)
    print(f"imports against the layers: {len(found)}")
    for problem in found:
        print("  " + problem)
    print(f"allowed exceptions: {len(contract.exceptions)}")


if __name__ == "__main__":
    figures()
