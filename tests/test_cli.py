"""The command line: listing, usage errors, exit codes, Ctrl-C, and each mode end to end."""
from __future__ import annotations

import re
import socket

import pytest
from conftest import run_demo

import demo
import modes


def test_list_prints_one_line_per_mode_name_first(capsys):
    assert demo.main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == modes.names()
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)
    assert {"echo", "number-add"} <= set(modes.names())


@pytest.mark.parametrize("argv, words", [
    (["--mode", "nope"], "choose from"),
    (["--bogus"], "valid flags"),
    ([], "--mode NAME"),
    (["--mode", "echo", "--port", "70000"], "0 to 65535"),
    (["--mode", "echo", "--send", "x", "--interactive"], "choose one"),
    (["--mode", "echo", "--role", "client", "--port", "0"], "needs the server's port"),
    (["--mode", "echo", "--host", "::1"], "IPv6 addresses are not supported"),
    (["--mode", "echo", "--max-clients", "3"], "--max-clients is for --mode chat"),
    (["--mode", "echo", "--role", "server", "--send", "x"], "--role server has no client lines"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, words):
    assert demo.main(argv) == demo.Exit.USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err


def test_unknown_mode_names_the_valid_ones(capsys):
    demo.main(["--mode", "nope"])
    err = capsys.readouterr().err
    for name in modes.names():
        assert name in err


@pytest.mark.parametrize("name", modes.names())
def test_every_mode_runs_to_the_end_by_itself(name):
    result = run_demo("--mode", name)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for call in ("socket", "listen", "accept", "connect", "recv", "close"):
        assert call in result.stdout


def test_a_port_in_use_is_one_line_and_its_own_exit_code():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_demo("--mode", "echo", "--port", str(taken.getsockname()[1]))
    assert result.returncode == demo.Exit.PORT_IN_USE
    assert result.stderr.strip().count("\n") == 0
    assert "already in use" in result.stderr and "--port 0" in result.stderr


def test_ctrl_c_exits_130_within_a_second_without_traceback(background):
    demo_process = background("--mode", "echo", "--interactive")
    demo_process.wait_for("you> ")        # the server listens; the client waits for a typed line
    code, seconds, stderr = demo_process.interrupt()
    assert code == 130
    assert seconds < 1.0
    assert "Traceback" not in stderr and "interrupted" in stderr


def test_interactive_lines_are_sent_and_answered():
    result = run_demo("--mode", "echo", "--interactive", input="typed by hand\nquit\n")
    assert result.returncode == 0, result.stderr
    assert "ECHO: typed by hand (from 127.0.0.1:" in result.stdout


def test_a_lesson_needs_no_mode_and_the_old_flag_still_works():
    lesson = run_demo("--lesson", "stream")
    assert lesson.returncode == 0, lesson.stderr
    assert "framed message" in lesson.stdout
    old = run_demo("--mode", "echo", "--pitfall", "stream")
    assert old.returncode == 0, old.stderr
    def without_ports(text: str) -> str:
        return re.sub(r"(?<=[: ])\d{4,5}\b", "P", text)
    assert without_ports(old.stdout) == without_ports(lesson.stdout)
    assert old.stderr.strip() == "note: a lesson needs no mode; --mode echo changes nothing here"


def test_every_lesson_is_a_file_with_a_summary_and_a_play():
    from narration import lessons
    assert lessons.names() == ["stream", "sleep-race", "reuseaddr", "pickle"]
    for name in lessons.names():
        lesson = lessons.load(name)
        assert lesson.SUMMARY and callable(lesson.play)
        assert lesson.__doc__.strip()


@pytest.mark.parametrize("after_import", ["argparse", "modes", "rich.console", "narration.run"])
def test_ctrl_c_during_start_up_exits_130_without_traceback(after_import):
    """SIGINT the moment a given import has finished (-X importtime reports each as it ends)."""
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    process = subprocess.Popen([sys.executable, "-X", "importtime", str(ROOT / "demo.py"), "--mode", "echo"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.rstrip().endswith(b"| " + after_import.encode()) or line.rstrip().endswith(b" " + after_import.encode()):
            process.send_signal(signal.SIGINT)
            break
    rest = process.stderr.read()
    assert process.wait(timeout=10) == demo.Exit.INTERRUPTED
    assert b"Traceback" not in rest and b"interrupted" in rest
