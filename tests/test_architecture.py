"""The architecture, checked: the kit stands on its own, no import runs in a cycle or back up, and
no run depends on the wording of what it shows a person."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT, run_mode, shown

import modes
from narration import events as ev
from narration import run as narration_run

PACKAGES = ("narration", "modes")


def project_modules() -> dict[str, Path]:
    found = {"demo": ROOT / "demo.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that ``name`` imports, at the top or inside a function."""
    result = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        result |= {target for target in targets if target in known and target != name}
    return result


GRAPH = {name: imports_of(name, path, set(project_modules())) for name, path in project_modules().items()}


def test_the_kit_never_imports_the_launcher_or_a_mode():
    for name, targets in GRAPH.items():
        if name.startswith("narration"):
            assert not {t for t in targets if t == "demo" or t.startswith("modes")}, name


def test_modes_never_import_the_launcher():
    for name, targets in GRAPH.items():
        if name.startswith("modes"):
            assert "demo" not in targets, name


SOCKET_CALLS = {"socket", "bind", "listen", "accept", "connect", "send", "sendall", "recv", "sendto",
                "recvfrom", "shutdown", "close"}


def test_the_chat_servers_bookkeeping_makes_no_socket_call():
    """Every socket call of the chat server is in modes/chat.py, where a student reads it."""
    tree = ast.parse((ROOT / "narration" / "crowd.py").read_text(encoding="utf-8"))
    called = {node.func.attr for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not called & SOCKET_CALLS
    chat = ast.parse((ROOT / "modes" / "chat.py").read_text(encoding="utf-8"))
    in_chat = {node.func.attr for node in ast.walk(chat)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert {"accept", "recv", "send", "close"} <= in_chat


def test_no_import_cycles():
    # A package importing its own submodules is how packages work; every other edge must be
    # acyclic, and a submodule its package imports never imports that package back (it would meet
    # it half-initialised).
    edges = {name: {t for t in targets if not t.startswith(name + ".")} for name, targets in GRAPH.items()}
    for name, targets in edges.items():
        parent = name.rpartition(".")[0]
        assert not (parent in targets and name in GRAPH.get(parent, ())), f"{name} imports {parent} back"
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges[name]):
            assert state.get(target) != 1, "import cycle: " + " -> ".join([*path, target])
            if target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("name", modes.names())
def test_no_run_depends_on_the_wording_of_what_it_shows(name, monkeypatch):
    """Every say and note reworded: the run takes the same turns and makes the same calls."""
    plain = [(e.actor, e.call, getattr(e, "size", None)) for e in shown(run_mode(name))
             if e.call not in ("say", "note")]

    def reworded(kind):
        def speak(self, text: str) -> None:
            self.record(kind(self.name, f"(reworded) {text[::-1]}"))
        return speak

    monkeypatch.setattr(narration_run.Actor, "say", reworded(ev.Say))
    monkeypatch.setattr(narration_run.Actor, "note", reworded(ev.Note))
    run = run_mode(name)
    assert not run.failures
    assert [(e.actor, e.call, getattr(e, "size", None)) for e in shown(run) if e.call not in ("say", "note")] == plain
    assert all(e.text.startswith("(reworded)") for e in shown(run) if e.call in ("say", "note"))
