"""The teaching layer: --explain, --view ladder, --wire, pacing and the lessons."""
from __future__ import annotations

import ast
import io
import re
from pathlib import Path

from conftest import ROOT, run_demo, run_mode
from rich.console import Console

from narration.events import Recv
from narration.lessons.pickle import EVIL_PICKLE, pickle_ops
from narration.order import canonical, shown
from narration.views.explain import EXPLANATIONS
from narration.views.ladder import LadderView
from narration.views.log import Look, wire_lines
from narration.views.theme import THEME


def lines_of(result) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_explain_notes_each_kind_of_call_once_beside_its_first_use():
    out = lines_of(run_demo("--mode", "echo", "--explain"))
    for key in ("socket", "setsockopt", "bind", "listen", "accept", "connect", "sendall", "recv", "close"):
        first_words = EXPLANATIONS[key][:30]
        hits = [number for number, line in enumerate(out) if first_words in line]
        assert len(hits) == 1, (key, hits)
        call_line = next(number for number, line in enumerate(out) if f" {key} " in line or line.endswith(f" {key}"))
        assert call_line < hits[0] <= call_line + 4, key   # right beneath that first call


def test_explain_spells_out_b_empty_once():
    out = "\n".join(lines_of(run_demo("--lesson", "reuseaddr", "--explain")))
    assert out.count("b'' end of stream") == 2
    assert out.count("recv() returning b''") == 1


def ladder_text(run, width=80) -> list[str]:
    console = Console(file=io.StringIO(), width=width, theme=THEME, record=True)
    console.print(LadderView(shown(canonical(run.trace)), run.trace.actor_rank, Look(times=False, normalise=True)))
    return console.export_text().splitlines()


def test_ladder_has_a_lane_per_actor_and_an_arrow_per_message():
    run = run_mode("echo")
    rows = ladder_text(run)
    assert rows[0].split() == ["server", "client"]
    assert all(len(row) <= 80 for row in rows)
    sends = [e for e in shown(canonical(run.trace)) if e.call == "sendall"]
    arrows = [row for row in rows if "─▶" in row or "◀─" in row]
    assert len(arrows) == len(sends)
    assert any('"hello\\n" 6 B' in row and "◀" in row for row in rows)          # client -> server
    assert any('"ECHO: hello' in row and "▶" in row for row in rows)            # server -> client
    assert any("connect" in row and "═" in row for row in rows)
    assert any("close" in row and "╌" in row for row in rows)


def test_ladder_is_the_same_every_run():
    assert ladder_text(run_mode("echo")) == ladder_text(run_mode("echo"))


def test_ladder_from_the_command_line():
    out = lines_of(run_demo("--mode", "number-add", "--view", "ladder"))
    assert out[0].split() == ["server", "client"]


def test_wire_shows_stream_offsets_and_hex_for_binary():
    data = b"\xff\x00binary"
    event = Recv("server", data=data, size=len(data), span=(6, 6 + len(data)))
    text = [line.plain for line in wire_lines(event)]
    assert text[0].startswith("stream bytes 6..14 (not UTF-8: hex)")
    assert "ff 00 62 69 6e 61 72 79" in text[1]
    out = "\n".join(lines_of(run_demo("--mode", "echo", "--wire", "--send", "hello", "--send", "quit")))
    assert "stream bytes 0..6" in out and "stream bytes 6..11" in out


def test_wire_never_cuts_a_payload_short():
    long_line = "y" * 300
    short = "\n".join(lines_of(run_demo("--mode", "echo", "--send", long_line, "--send", "quit")))
    assert "…(+229 B)" in short                              # the log view cuts 301 bytes to 72
    wire = "\n".join(lines_of(run_demo("--mode", "echo", "--wire", "--send", long_line, "--send", "quit")))
    assert "…(+" not in wire
    assert "stream bytes 0..301" in wire


def test_step_and_pace_show_the_same_lines():
    def without_ports(text: str) -> str:
        return re.sub(r"\b\d{4,5}\b", "P", text)
    normal = without_ports(run_demo("--mode", "echo").stdout)
    stepped = run_demo("--mode", "echo", "--step", input="\n" * 200)
    paced = run_demo("--mode", "echo", "--pace", "0.001")
    for result in (stepped, paced):
        assert result.returncode == 0, result.stderr
        assert without_ports(result.stdout) == normal


def test_lesson_stream_merges_then_splits_then_frames():
    out = "\n".join(lines_of(run_demo("--lesson", "stream")))
    assert 'recv       ← 12 B "hello\\nworld\\n"' in out
    assert "naive server got 1 message of 1024 bytes" in out
    assert "framed message: 'hello'" in out and "framed message: 'world'" in out
    assert "framed message: 2499 bytes, whole" in out


def test_lesson_sleep_race_is_refused_then_connects():
    out = "\n".join(lines_of(run_demo("--lesson", "sleep-race")))
    refused = out.index("connection refused")
    assert refused < out.index("connect    to 127.0.0.1:")
    assert "connected and sent on the first try" in out


def test_lesson_reuseaddr_fails_then_restarts():
    out = "\n".join(lines_of(run_demo("--lesson", "reuseaddr")))
    assert out.count("address already in use") == 1
    assert out.index("address already in use") < out.index("restarted on the same port at once")


def test_lesson_pickle_only_disassembles():
    assert pickle_ops(EVIL_PICKLE)[:1] == ["GLOBAL 'os system'"]
    out = "\n".join(lines_of(run_demo("--lesson", "pickle")))
    assert "GLOBAL 'os system'" in out and "REDUCE" in out
    assert "pwned\n" not in out.replace("'echo pwned'", "")     # nothing ran the command


def test_a_lesson_runs_in_one_process_with_its_own_script():
    for extra, words in ((["--role", "server"], "drop --role"), (["--send", "x"], "plays its own script")):
        result = run_demo("--lesson", "pickle", *extra)
        assert result.returncode == 2 and words in result.stderr


def product_files() -> list[Path]:
    return [ROOT / "demo.py", *sorted((ROOT / "modes").glob("*.py")), *sorted((ROOT / "narration").rglob("*.py"))]


def test_no_product_code_unpickles_evals_or_execs():
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            where = f"{path.name}:{node.lineno}"
            assert not (isinstance(func, ast.Name) and func.id in ("eval", "exec")), where
            owner = getattr(func.value, "id", None) if isinstance(func, ast.Attribute) else None
            assert owner not in ("pickle", "marshal", "shelve", "cPickle"), where
