"""Issue 13: one code path on every OS, and the bugs a newcomer met first."""
from __future__ import annotations

import socket
import subprocess

from conftest import ROOT, free_port, recv_line, run_demo

import demo


def test_step_with_no_enter_to_read_shows_the_rest():
    """--step with stdin at its end (Ctrl-D, or < /dev/null) shows the rest at once."""
    result = run_demo("--mode", "echo", "--step", stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "close      the listening socket" in result.stdout


def test_bring_your_own_netcat_to_the_one_process_chat(background):
    port = free_port()
    chat = background("--mode", "chat", "--interactive", "--port", str(port))
    chat.wait_for("you> ")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as visitor, visitor.makefile("rb") as lines:
        assert lines.readline().startswith(b"* welcome, guest-")
        visitor.sendall(b"/name visitor\n")
        heard = [lines.readline()]                            # bob and carol may join meanwhile
        while heard[-1] != b"* you are now visitor\n" and len(heard) < 20:
            heard.append(lines.readline())
        assert heard[-1] == b"* you are now visitor\n", heard
        code, out, err = chat.finish(input=b"/quit\n", timeout=30)
    assert code == 0, err


def test_ctrl_c_on_a_chat_server_says_goodbye_to_everyone(background):
    server = background("--mode", "chat", "--role", "server", "--port", "0")
    port = server.listening_port()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as student:
        assert recv_line(student).startswith(b"* welcome, guest-1")
        server.wait_for("accept")
        code, seconds, stderr = server.interrupt()
        assert recv_line(student) == b"* the server is closing; goodbye\n"
        assert student.recv(100) == b""
    assert code == demo.Exit.INTERRUPTED and "Traceback" not in stderr


def test_a_server_for_the_class_names_its_addresses_and_the_firewall(background):
    server = background("--mode", "echo", "--role", "server", "--host", "0.0.0.0", "--port", "0")
    text = server.wait_for("students cannot connect?")
    from narration import oses
    addresses = demo.machine_addresses() or ["THIS-MACHINE"]   # no address but loopback: a placeholder
    for address in addresses:                              # each one a student could use, with nc
        assert f"connect: nc {address} " in text
    assert f"this machine's addresses: {oses.ADDRESS_COMMAND}" in text
    server.interrupt()


def test_the_kit_never_selects_on_anything_but_sockets():
    """Windows' select() takes sockets only: no select() on stdin, pipes or files anywhere."""
    import ast

    for path in [ROOT / "demo.py", *sorted((ROOT / "narration").rglob("*.py")), *sorted((ROOT / "modes").glob("*.py"))]:
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("set_wakeup_fd", "set_blocking"):
                raise AssertionError(f"{path.name}:{node.lineno}: POSIX-only wait")
        assert "sys.stdin.fileno()" not in source or path.name == "keyboard.py", path
        assert "select.select([sys.stdin" not in source, path
