"""Never unpickle network data: what a malicious pickle would run, read without running it.

    naive:   pickle.loads(data) on bytes from the network  -> runs os.system(...) for the sender
    the fix: send text (or JSON) and parse it with rules that only build data
"""
from __future__ import annotations

from narration.framing import LineBuffer, as_text, recv_line
from narration.lessons._setup import open_pair, until_buffered

SUMMARY = "why never unpickle network data (harmless demonstration)"


# The classic malicious pickle: unpickling it calls os.system("echo pwned").  We build the bytes
# by hand and only ever *disassemble* them with pickletools; nothing here unpickles anything.
EVIL_PICKLE = b"cos\nsystem\n(S'echo pwned'\ntR."


def pickle_ops(payload: bytes) -> list[str]:
    """What a pickle would do, read without running it (pickletools only parses)."""
    import pickletools
    return [f"{op.name} {arg!r}" if arg is not None else op.name for op, arg, _ in pickletools.genops(payload)]


def play(run) -> None:
    server, client, conn, sock, listener = open_pair(run)
    client.note("an attacker's client sends bytes that are a pickle")
    sock.sendall(EVIL_PICKLE)
    until_buffered(conn, len(EVIL_PICKLE))
    data = conn.recv(1024)
    server.note("naive: a server that calls pickle.loads(data) would now run these instructions:")
    for op in pickle_ops(data):
        server.say(f"  {op}")
    server.note("GLOBAL os.system + REDUCE = call os.system('echo pwned'): any command the sender "
                "picks, with the server's rights. (This demo only disassembled the bytes.)")
    server.note("the fix: send text (or JSON) and parse it with rules that only build data")
    sock.sendall(b"hello as plain text\n")
    server.say(f"text message: {as_text(recv_line(conn, LineBuffer()))!r}: data, never code")
    sock.close()
    conn.close()
    listener.close()
