"""No import cycles anywhere in lessons_lib.

``make lint``'s import-linter contracts check the layers and the cycles between
sibling modules (``.importlinter``); this test checks the whole package at the
level of single modules: no two modules of lessons_lib may import each other,
directly or through others. Imports made only for type checking count too: a
cycle through them is still a circle a reader has to untangle.

The graph is grimp's (import-linter's own graph builder), and the cycles are
its strongly connected components, computed here (Tarjan's algorithm) so that
the test needs nothing beyond grimp.
"""

from __future__ import annotations

import pytest

grimp = pytest.importorskip("grimp")  # import-linter's; the ipywidgets 7 test env has none


def strongly_connected_components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the sets of nodes that reach each other."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index_of:
            continue
        # Each work item: a node and an iterator over the nodes it imports.
        work = [(root, iter(sorted(graph[root])))]
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index_of:
                    index_of[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index_of[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index_of[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def import_graph(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the modules of ``package`` it imports directly."""
    graph = grimp.build_graph(package, cache_dir=None)
    return {
        module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, each sorted."""
    return sorted(
        sorted(component)
        for component in strongly_connected_components(graph)
        if len(component) > 1
    )


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        (
            {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "a"}, "e": {"e"}},
            [["a", "b"], ["c", "d"]],
        ),
    ],
)
def test_cycles_finds_every_circle_and_only_circles(graph, expected):
    assert cycles(graph) == expected


def test_the_graph_sees_lessons_lib_imports():
    # Guards against a vacuous pass: the graph must hold the package's real imports.
    graph = import_graph("lessons_lib")
    assert "lessons_lib.widgets.explorer" in graph
    assert "lessons_lib.widgets.static" in graph["lessons_lib.widgets.explorer"]
    assert "lessons_lib.softmax" in graph["lessons_lib.attention"]


def test_no_two_lessons_lib_modules_import_each_other():
    found = cycles(import_graph("lessons_lib"))
    assert found == [], (
        "import cycles in lessons_lib (each line: modules that import each other):\n"
        + "\n".join(" <-> ".join(component) for component in found)
    )
