"""The mode contract (modes.Mode), checked against every module in modes/, and the layout it keeps."""
from __future__ import annotations

import ast
import inspect

import pytest
from conftest import ROOT

import modes
from narration.scene import Joins, Scene, Types

MODES = ROOT / "modes"


@pytest.mark.parametrize("name", modes.names())
def test_every_mode_keeps_the_contract(name):
    mode = modes.load(name)
    assert isinstance(mode, modes.Mode)
    assert isinstance(mode.SUMMARY, str) and mode.SUMMARY
    assert isinstance(mode.SCRIPT, tuple) and all(isinstance(line, str) for line in mode.SCRIPT)
    assert list(inspect.signature(mode.server).parameters)[:3] == ["me", "address", "ready"]
    assert list(inspect.signature(mode.client).parameters) == ["me", "address", "lines"]
    for optional in modes.OPTIONAL:
        scene = getattr(mode, optional, None)
        if scene is None:
            continue
        assert isinstance(scene, Scene)
        for turn in scene.turns:
            assert isinstance(turn.part, str) and turn.part in scene.parts
        for position, turn in enumerate(scene.turns):      # a part joins before it types
            if isinstance(turn, Types) and any(isinstance(t, Joins) and t.part == turn.part for t in scene.turns):
                assert any(isinstance(t, Joins) and t.part == turn.part for t in scene.turns[:position])
    assert mode.__doc__ and "|" in mode.__doc__, "a mode's docstring carries its exchange as a small ladder"


def test_modes_holds_only_modes_and_their_pure_rules():
    files = sorted(path.name for path in MODES.glob("*.py"))
    mode_files = sorted(f"{name.replace('-', '_')}.py" for name in modes.names())
    assert files == sorted(["__init__.py", "_chat_rules.py", "_pairing.py", *mode_files])
    assert not [path for path in MODES.iterdir() if path.is_dir() and path.name != "__pycache__"]
    rules = ast.parse((MODES / "_chat_rules.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(rules) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(rules) if isinstance(node, ast.ImportFrom)}
    assert not {"socket", "selectors", "select", "threading"} & imported, "rules never touch a socket"


@pytest.mark.parametrize("name", modes.names())
def test_a_mode_file_reads_in_textbook_order(name):
    source = (MODES / f"{name.replace('-', '_')}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert functions["server"].lineno < functions["client"].lineno

    def calls(function) -> list[str]:      # socket calls in the order they are written
        found = [(node.lineno, node.col_offset, node.func.attr) for node in ast.walk(function)
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)]
        return [attr for _, _, attr in sorted(found)]

    server, client = calls(functions["server"]), calls(functions["client"])
    if getattr(modes.load(name), "TRANSPORT", "tcp") == "udp":     # datagrams: no connections at all
        order = [server.index(call) for call in ("socket", "bind", "recvfrom", "sendto")]
        assert order == sorted(order), server
        assert client.index("socket") < client.index("sendto") < client.index("recvfrom"), client
        assert not {"listen", "accept", "connect"} & {*server, *client}
    else:
        order = [server.index(call) for call in ("socket", "bind", "listen", "accept")]
        assert order == sorted(order), server
        assert client.index("socket") < client.index("connect"), client
    scene = next((node.lineno for node in tree.body if isinstance(node, ast.Assign)
                  and any(getattr(target, "id", "") == "SCENE" for target in node.targets)), None)
    assert scene is None or scene > functions["client"].lineno, "the scene comes after the socket code"


def test_the_docstring_of_modes_states_the_contract():
    for word in ("SUMMARY", "SCRIPT", "server(me, address, ready)", "client(me, address, lines)", "SCENE"):
        assert word in modes.__doc__
