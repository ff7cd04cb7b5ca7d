"""TIME_WAIT, read from the kernel: the end that closes first keeps the connection a while.

    naive:   the server closes first   -> its end waits in TIME_WAIT, holding the server's port:
                                          a restart on that port fails (Address already in use)
    the fix: the client closes first   -> the TIME_WAIT lands on the client's end (its own port),
             (the server waits for b'')   and the server restarts on its port at once

Each state below is read from the kernel after the call before it (``narration.tcp_state``):
an open socket's with TCP_INFO, a closed one's from the kernel's table of connections.
"""
from __future__ import annotations

from narration import oses
from narration.lessons._kernel import closed_settled, shown, state
from narration.lessons._setup import open_pair, until_buffered

SUMMARY = "TIME_WAIT, read from the kernel: the end that closes first keeps it"
GONE = None          # no entry in the kernel's table: the connection is over for good


def table(local, peer, wanted: tuple) -> str:
    """A closed connection's state in the kernel's table, once it has settled (see _kernel)."""
    return shown(closed_settled(local, peer, wanted), closed=True)


def restart(server, address) -> None:
    """A new server socket binds the old port, without SO_REUSEADDR."""
    again = server.socket()
    try:
        again.bind(address)
    except OSError:
        server.note("the old connection's TIME_WAIT holds the server's port")
    else:
        server.say("restarted on the same port at once, without SO_REUSEADDR")
    again.close()


def play(run) -> None:
    server, client, conn, sock, listener = open_pair(run)
    address = listener.getsockname()
    server_end, client_end = (conn.getsockname(), sock.getsockname()), (sock.getsockname(), conn.getsockname())
    server.note("naive: the server closes first, as soon as it has answered")
    sock.sendall(b"hello\n")
    until_buffered(conn, 6)
    conn.recv(1024)
    conn.close()
    server.note(f"the server's end, closed: {table(*server_end, ('FIN_WAIT_2',))} (its FIN acknowledged)")
    sock.recv(1024)
    client.note(f"the client's end: {shown(state(sock))} (the server's FIN came; it may still send)")
    sock.close()
    server.note(f"the server's end: {table(*server_end, ('TIME_WAIT',))}, for {oses.TIME_WAIT} on {oses.NAME}")
    client.note(f"the client's end: {table(*client_end, (GONE,))}")
    listener.close()
    server.note("a server that closes first keeps one TIME_WAIT per client, on its own port: restart it")
    restart(server, address)

    server.note("the fix: the server waits for the client to close first (recv returns b'')")
    server, client, conn, sock, listener = open_pair(run)
    address = listener.getsockname()
    server_end, client_end = (conn.getsockname(), sock.getsockname()), (sock.getsockname(), conn.getsockname())
    sock.sendall(b"hello\n")
    sock.close()
    until_buffered(conn, 6)
    conn.recv(1024)
    conn.recv(1024)
    server.note(f"the server's end: {shown(state(conn))} (the client's FIN came)")
    client.note(f"the client's end, closed: {table(*client_end, ('FIN_WAIT_2',))}")
    conn.close()
    client.note(f"the client's end: {table(*client_end, ('TIME_WAIT',))}, on the client's own port")
    server.note(f"the server's end: {table(*server_end, (GONE,))}")
    listener.close()
    restart(server, address)
