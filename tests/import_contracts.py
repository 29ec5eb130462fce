"""An import-linter contract: no import cycle between any two modules of a package.

import-linter's own ``acyclic_siblings`` contract looks at siblings only, so a package's
``__init__`` importing a child that imports it back (``lossdoctor`` and ``lossdoctor.model_files``)
would pass. This contract takes every module of the package, the ``__init__`` files included, and
every import grimp finds (inside functions too), and is broken by any strongly connected group of
two or more modules. pyproject.toml registers it as ``no_cycles``; ``lint-imports`` runs it.
"""

from __future__ import annotations

import grimp
from importlinter import Contract, ContractCheck, fields, output

__all__ = ["NoCyclesContract", "import_cycles"]


def import_cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """The groups of modules of ``package`` that import each other, directly or through others.

    Parameters
    ----------
    graph : grimp.ImportGraph
    package : str
        The package whose modules (itself and every descendant) are checked.

    Returns
    -------
    list of list of str
        Each strongly connected group of two or more modules, sorted; the groups sorted too.
    """
    modules = sorted({package} | graph.find_descendants(package))
    inside = set(modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in modules}

    # Tarjan's algorithm, iterative: a package's chain of imports can be longer than the
    # recursion limit would like.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                child = edges[node][i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(groups)


class NoCyclesContract(Contract):
    """Broken by any import cycle between modules of ``package``.

    Configuration options:

        - package: the package whose modules must not import each other in a cycle.
    """

    type_name = "no_cycles"

    package = fields.ModuleExpressionField()

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        package = self.package.expression  # type: ignore[attr-defined]
        groups = import_cycles(graph, package)
        imports = [
            [
                (importer, imported, [d["line_number"] for d in details])
                for importer in group
                for imported in sorted(graph.find_modules_directly_imported_by(importer))
                if imported in group
                for details in [graph.get_import_details(importer=importer, imported=imported)]
            ]
            for group in groups
        ]
        return ContractCheck(kept=not groups, warnings=[], metadata={"imports": imports})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for group in check.metadata["imports"]:
            output.print_error("Modules that import each other:", bold=True)
            output.new_line()
            for importer, imported, lines in group:
                where = ", ".join(f"l.{n}" for n in lines)
                output.print_error(f"- {importer} -> {imported} ({where})", bold=False)
            output.new_line()
