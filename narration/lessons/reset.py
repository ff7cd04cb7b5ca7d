"""Reset (RST): how a connection ends abruptly, and the errors the other end then meets.

    naive:   close() with bytes still unread         -> the peer's recv(): connection reset
             SO_LINGER on, 0 seconds, then close()   -> the same, on purpose: an abort
             keep sending to a peer that has gone    -> the 1st send succeeds, the 2nd fails
    the fix: read what the peer sent before closing  -> the peer's recv() returns b''
             treat recv() returning b'' as "gone"    -> stop sending, close
"""
from __future__ import annotations

import errno
import select
from socket import MSG_PEEK, SHUT_WR, SO_LINGER, SOL_SOCKET

from narration import oses
from narration.lessons._kernel import TABLE_UNREADABLE, closed_state, settled, shown, state
from narration.lessons._setup import connect_again, open_pair, until_buffered

SUMMARY = "reset: closing with unread bytes, SO_LINGER 0, sending to a peer that has gone"
REQUEST = b"line one\nline two\n"
FIRST_LINE = len(b"line one\n")


def real_error(error: OSError) -> str:
    """The error as the OS names it: ECONNRESET (104) on Linux, WSAECONNRESET (10054) on Windows."""
    return f"{errno.errorcode.get(error.errno, 'errno')} ({error.errno})"


def expect_reset(actor, sock) -> None:
    """A recv() on a connection the peer has reset: the error is narrated where it happens."""
    try:
        sock.recv(1024)
    except ConnectionError as error:
        actor.note(f"the real error: {real_error(error)}, from the RST the peer's kernel sent")
    else:
        actor.note("no reset came: the connection ended normally on this system")


def gone_after_reset(actor, ends) -> None:
    """A connection ended by a reset leaves nothing in the kernel's table: no TIME_WAIT."""
    found = closed_state(*ends)
    if TABLE_UNREADABLE or found is not None:
        actor.note(f"the server's end of that connection: {shown(found, closed=True)}")
    else:
        actor.note("the kernel's table keeps nothing of that connection: a reset leaves no TIME_WAIT")


def reset_seen(conn) -> bool:
    """Has the peer's reset arrived?  Nothing signals it to a program that is not reading, so the
    lesson looks: the state leaves CLOSE_WAIT where it can be read (Linux, macOS); elsewhere a
    peek, which returns b'' at once after the peer's FIN, raises once its reset has come."""
    found = state(conn)
    if found is not None:
        return found != "CLOSE_WAIT"
    try:
        conn.real.recv(1, MSG_PEEK)
    except OSError:
        return True
    return False


def play(run) -> None:
    server, client, conn, sock, listener = open_pair(run)
    server.note("naive: the server reads the first line it needs, then closes; a second line is unread")
    sock.sendall(REQUEST)
    until_buffered(conn, len(REQUEST))
    conn.recv(FIRST_LINE)
    ends = (conn.getsockname(), conn.getpeername())
    conn.close()
    server.note(f"close() with {len(REQUEST) - FIRST_LINE} bytes unread: the kernel sends a reset (RST), not a FIN")
    expect_reset(client, sock)
    gone_after_reset(server, ends)
    sock.close()

    server.note("the fix: read everything the peer sent, up to b'', before closing")
    conn, sock = connect_again(run, listener)
    sock.sendall(REQUEST)
    sock.shutdown(SHUT_WR)
    while conn.recv(1024):
        pass
    conn.close()
    client.say(f"the server closed cleanly: recv returned {sock.recv(1024)!r}, not an error")
    sock.close()

    server.note("SO_LINGER on, with 0 seconds: close() resets at once, on purpose (an abort)")
    conn, sock = connect_again(run, listener)
    conn.setsockopt(SOL_SOCKET, SO_LINGER, oses.RESET_ON_CLOSE)
    ends = (conn.getsockname(), conn.getpeername())
    conn.close()
    expect_reset(client, sock)
    gone_after_reset(server, ends)
    server.note("an abort skips TIME_WAIT and drops unsent bytes: for giving up on a peer, not for ending")
    sock.close()

    client.note("naive: a peer that has gone: the client leaves, the server keeps sending")
    conn, sock = connect_again(run, listener)
    sock.close()
    select.select([conn.real], [], [], 5)         # the client's FIN has arrived: the server's end is CLOSE_WAIT
    conn.sendall(b"tick 1\n")
    server.note("the first sendall succeeds: the kernel took the bytes; the client's kernel answers with RST")
    if settled(lambda: reset_seen(conn), (True,)):
        server.note(f"the server's end is now {shown(state(conn))}")
    else:
        server.note("no reset came back within 2 seconds")
    try:
        conn.sendall(b"tick 2\n")
    except ConnectionError as error:
        server.note(f"the second sendall fails: {real_error(error)}")
    else:
        server.note("the second sendall succeeded too: no reset had come back yet")
    conn.close()

    server.note("the fix: recv() returning b'' means the peer has gone: stop sending, close")
    conn, sock = connect_again(run, listener)
    sock.close()
    if conn.recv(1024) == b"":
        server.say("the client has gone: nothing more is sent")
    conn.close()
    listener.close()
