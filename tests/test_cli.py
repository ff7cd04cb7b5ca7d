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
    (["--mode", "echo", "--port", "70000"], "0 to 65535"),
    (["--mode", "echo", "--send", "x", "--interactive"], "choose one"),
    (["--mode", "echo", "--role", "client", "--port", "0"], "needs the server's port"),
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
    udp = getattr(modes.load(name), "TRANSPORT", "tcp") == "udp"       # datagrams: no connections
    for call in ("socket", "bind", "recvfrom", "sendto", "close") if udp else \
            ("socket", "listen", "accept", "connect", "recv", "close"):
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
    assert lessons.names() == ["stream", "datagrams", "sleep-race", "backlog", "half-close", "reset", "time-wait",
                               "reuseaddr", "nagle", "deadlock", "pickle"]
    for name in lessons.names():
        lesson = lessons.load(name)
        assert lesson.SUMMARY and callable(lesson.play)
        assert lesson.__doc__.strip()


@pytest.mark.posix
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


def test_a_bare_command_shows_how_to_start(capsys):
    assert demo.main([]) == demo.Exit.USAGE
    out = capsys.readouterr().out
    assert out.startswith("usage: python demo.py --mode NAME") and "examples:" in out


def test_version_and_help_with_examples_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as exited:
        demo.main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"demo.py {demo.VERSION}"
    with pytest.raises(SystemExit):
        demo.main(["--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "exit codes:" in out and "lessons (--lesson NAME):" in out
    for code in demo.Exit:
        assert re.search(rf"^  {code.value} +\S", out, re.MULTILINE), code


@pytest.mark.parametrize("argv, words", [
    (["--mode", "echo", "--width", "100"], "add --screenshot"),
    (["--mode", "echo", "--font", "x.ttf", "--screenshot", "a.svg"], "--font is for .png"),
    (["--mode", "echo", "--role", "server", "--screenshot", "a.svg"], "drop --role server"),
    (["--mode", "echo", "--role", "client", "--port", "5", "--step"], "drop --role client"),
    (["--mode", "echo", "--role", "server", "--view", "ladder"], "as they happen"),
    (["--mode", "echo", "--interactive", "--pace", "1"], "not with --interactive"),
    (["--mode", "echo", "--interactive", "--view", "ladder"], "shows it live"),
    (["--mode", "echo", "--step", "--pace", "1"], "choose one"),
    (["--mode", "chat", "--role", "client", "--port", "5", "--max-clients", "3"], "limits a server"),
    (["--lesson", "stream", "--port", "5050"], "drop --host/--port"),
    (["--mode", "echo", "--framing", "raw"], "add --role client"),
    (["--mode", "echo", "--role", "server", "--timeout", "3"], "drop it with --role server"),
    (["--lesson", "stream", "--mode", "chat", "--max-clients", "5"], "a lesson has its own"),
    (["--mode", "echo", "--timeout", "inf"], "from 0 to 86400"),
    (["--mode", "echo", "--timeout", "nan"], "from 0 to 86400"),
])
def test_a_flag_that_would_do_nothing_is_a_usage_error(capsys, argv, words):
    assert demo.main(argv) == demo.Exit.USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err


def test_output_is_utf8_whatever_the_redirect_would_choose():
    """A Windows redirect encodes cp1252, which has no arrow: the run must still print, in UTF-8."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    result = subprocess.run([sys.executable, str(ROOT / "demo.py"), "--mode", "echo"], cwd=ROOT,
                            capture_output=True, env={**os.environ, "PYTHONIOENCODING": "cp1252"}, timeout=20)
    assert result.returncode == 0, result.stderr
    assert "→".encode() in result.stdout and "←".encode() in result.stdout


def test_os_refusals_and_unreachable_addresses_get_their_own_advice():
    import errno

    server = demo.parse_arguments(["--mode", "echo", "--role", "server", "--port", "80"])
    code, message = demo.classify(PermissionError(errno.EACCES, "Permission denied"), server)
    assert code == demo.Exit.NOT_ALLOWED and "above 1023" in message
    client = demo.parse_arguments(["--mode", "echo", "--role", "client", "--host", "10.9.9.9", "--port", "5"])
    code, message = demo.classify(OSError(errno.EADDRNOTAVAIL, "Cannot assign"), client)
    assert code == demo.Exit.UNREACHABLE and "cannot reach 10.9.9.9:5" in message and "bind" not in message
    both = demo.parse_arguments(["--mode", "number-add"])
    code, message = demo.classify(ConnectionRefusedError(errno.ECONNREFUSED, "refused"), both)
    assert code == demo.Exit.REFUSED and "--port 0" not in message and "no longer listening" in message
