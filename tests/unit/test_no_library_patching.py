"""The product extends its libraries, it does not patch them: no ``exec``, no reading of a
library's source, no assignment to (or ``setattr``/``delattr`` on) an imported module or
class, no ``# type: ignore[method-assign]``. ``make test`` runs this with the unit tests, so
a patch fails the build (issue 26)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("ascolto", "schemas", "services", "streams", "grafana", "observability")
METHOD_ASSIGN = re.compile(r"type:\s*ignore\[[^\]]*method-assign")
# the process's arguments, which faust's command line reads: state, not a library's code
ALLOWED = {"sys.argv"}


def imported_names(tree: ast.Module) -> set[str]:
    """Names a module binds by importing: modules, and what it takes from them."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names


def root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def assigned(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    if isinstance(node, ast.Delete):
        return node.targets
    return []


def patches(source: str, name: str = "<source>") -> list[str]:
    """Each place in ``source`` that patches a library, as ``name:line: what``."""
    tree = ast.parse(source, name)
    imported = imported_names(tree)
    found: list[str] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{name}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        for target in assigned(node):
            if (
                isinstance(target, ast.Attribute)
                and root_name(target) in imported
                and ast.unparse(target) not in ALLOWED
            ):
                flag(node, f"assigns to {ast.unparse(target)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "exec":
                flag(node, "exec")
            on = root_name(node.args[0]) if node.args else None
            if node.func.id in ("setattr", "delattr") and on in imported:
                flag(node, f"{node.func.id} on {ast.unparse(node.args[0])}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("getsource"):
            flag(node, f"reads library source ({ast.unparse(node)})")
        if isinstance(node, ast.ImportFrom) and node.module == "inspect":
            for alias in node.names:
                if alias.name.startswith("getsource"):
                    flag(node, f"imports inspect.{alias.name}")
    for number, line in enumerate(source.splitlines(), 1):
        if METHOD_ASSIGN.search(line):
            found.append(f"{name}:{number}: # type: ignore[method-assign]")
    return found


def product_files() -> list[Path]:
    return sorted(p for d in PRODUCT for p in (ROOT / d).rglob("*.py"))


def test_the_product_patches_no_library() -> None:
    files = product_files()
    assert len(files) > 20  # the product was found
    found = [f for p in files for f in patches(p.read_text(), str(p.relative_to(ROOT)))]
    assert found == []


def test_the_check_finds_each_kind_of_patch() -> None:
    source = """
import inspect
import faust.transport.consumer as consumer_module
from mode.utils.queues import FlowControlQueue
from aiokafka import AIOKafkaConsumer

consumer_module.Consumer._drain_messages = namespace["_drain_messages"]
FlowControlQueue.clear = clear  # type: ignore[method-assign,assignment]
setattr(AIOKafkaConsumer, "_create", create)
exec(compile(inspect.getsource(consumer_module.Consumer._drain_messages), "f", "exec"))
"""
    found = patches(source)
    assert [f.split(": ", 1)[1] for f in found] == [
        "assigns to consumer_module.Consumer._drain_messages",
        "assigns to FlowControlQueue.clear",
        "setattr on AIOKafkaConsumer",
        "exec",
        "reads library source (inspect.getsource)",
        "# type: ignore[method-assign]",
    ]


def test_the_check_leaves_own_objects_alone() -> None:
    source = """
import faust

class WorkerApp(faust.App):
    def __init__(self) -> None:
        self.gapless_topics = frozenset()

app = WorkerApp()
app.direct_delivery = False
settings = {}
settings["x"] = faust.App
"""
    assert patches(source) == []
