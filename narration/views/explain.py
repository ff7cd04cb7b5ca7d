"""What each socket call does, in plain words: shown once, beside its first appearance (--explain).

Data only (true for the OS in use: narration.oses).  Keys are call names, plus ``recv-eof``
(recv returned b''), ``reset``, and ``socket-dgram`` (a UDP socket).
"""
from narration.oses import NAME, OS, TIME_WAIT


EXPLANATIONS = {
    "socket": "socket() makes an endpoint. AF_INET: IPv4 addresses; SOCK_STREAM: TCP, a reliable, "
              "ordered stream of bytes between two programs.",
    "socket-dgram": "socket() makes an endpoint. SOCK_DGRAM: UDP, separate messages (datagrams) and no "
                    "connection: no listen(), accept() or connect(); each sendto() names where it goes.",
    "setsockopt": ("SO_EXCLUSIVEADDRUSE keeps every other program off this port; on Windows it is what "
                   "SO_REUSEADDR means elsewhere (there, SO_REUSEADDR would let a second server share the port)."
                   if OS == "win32" else
                   f"SO_REUSEADDR lets a restarted server bind its port at once, even while connections from "
                   f"its last run are still in TIME_WAIT ({TIME_WAIT} on {NAME})."),
    "bind": "bind() gives the socket its local address and port. Port 0 asks the OS for any free port; "
            "127.0.0.1 means only this machine can connect.",
    "listen": "listen() makes the socket passive: the kernel now completes TCP handshakes for it and "
              "queues the new connections (the backlog) until accept() takes them.",
    "accept": "accept() blocks until a connection is queued, then returns a NEW socket for that one "
              "client. The listening socket stays open for the next client.",
    "connect": "connect() does TCP's three-way handshake (SYN, SYN-ACK, ACK). The OS gives this end an "
               "ephemeral port: a temporary local port it picks for outgoing connections.",
    "send": "send() hands bytes to the kernel's send buffer and may take only some of them: it returns "
            "how many. The rest must be sent again.",
    "sendall": "sendall() calls send() until every byte is handed to the kernel. Returning does not mean "
               "the peer has received or read them.",
    "recv": "recv(n) returns the bytes that have arrived, at most n: part of a message, or several "
            "messages run together. TCP keeps no message boundaries; the program must frame them.",
    "recv-eof": "recv() returning b'' (zero bytes) means the stream has ended: the peer closed its "
                "side (or this end called shutdown()). No more data will come on this connection.",
    "sendto": "sendto(data, address) sends one datagram to that address. No connection: nothing checks "
              "that anyone is there, and a lost datagram is never sent again. An unbound socket gets an "
              "ephemeral port here.",
    "recvfrom": "recvfrom(n) returns one whole datagram and the sender's address: never two run together, "
                "never half of one (a datagram longer than n is cut, the rest discarded). Reply with sendto() "
                "to that address.",
    "settimeout": "settimeout(s) makes a blocking call give up after s seconds with a timeout error: how a "
                  "UDP program notices a datagram that never came.",
    "timeout": "The wait ran out: no datagram came. UDP never says a datagram was lost; silence is the only "
               "sign (the request or the reply was lost, or nobody is there).",
    "shutdown": "shutdown(SHUT_WR) tells the peer no more data is coming (its recv() returns b''); "
                "SHUT_RD or SHUT_RDWR also stop receiving here, which wakes a thread blocked in recv() on "
                "this socket. close() then releases the socket.",
    "close": "close() releases the socket. On a connection the kernel sends FIN, so the peer's next "
             "recv() returns b'' once it has read everything sent before.",
    "reset": "A reset (RST) aborts the connection at once, losing data in flight: the peer closed while "
             "bytes it had not read were waiting, or closed with SO_LINGER set to 0, or no longer knows "
             "this connection (its machine restarted).",
}


def explanation_key(event) -> str | None:
    """Which explanation an event earns, if any (a TCP call that timed out earns none: the
    timeout note is about datagrams)."""
    if event.call == "timeout" and event.waited != "recvfrom":
        return None
    if event.call == "recv" and event.size == 0:
        return "recv-eof"
    if event.call == "error" and event.reset:
        return "reset"
    if event.call == "socket" and event.kind == "SOCK_DGRAM":
        return "socket-dgram"
    return event.call if event.call in EXPLANATIONS else None
