"""udp-ping: the classic UDP pinger (the Kurose & Ross lab): ten pings, a timeout each, RTT and loss.

    client                                          server (loss switch: every 5th gets no reply)
      |  socket(SOCK_DGRAM), settimeout(0.25)         |  socket(SOCK_DGRAM), bind
      |  sendto "Ping 1 1712345678.123456"  ------->  |  recvfrom
      |  <--  "PING 1 1712345678.123456"              |  sendto: the same, in capitals
      |  ...                                          |
      |  sendto "Ping 5 1712345678.234567"  ------->  |  recvfrom: dropped, no reply
      |  recvfrom ... timed out: "Request timed out"  |
      |  ...                                          |
      |  10 sent, 8 received, 20% lost; RTT min, avg, max

UDP tells nobody about a lost datagram: the client only sees silence, so it waits a fixed time
(settimeout) and counts the ping as lost.  Each ping carries its sequence number and the time it
was sent; the round-trip time (RTT) is the time the reply came back minus that time.
"""
from __future__ import annotations

import time
from socket import SOCK_DGRAM

from modes.echo import is_quit
from narration.framing import as_text

SUMMARY = "the UDP pinger: ten pings, a timeout each; the server drops some; RTT and loss at the end"
SCRIPT = ("ping",) * 10    # each line is one ping (its text is not sent; quit stops early)
TRANSPORT = "udp"          # the launcher tells students `nc -u`
LOSS = 0.2                 # the share of pings the server drops: the 5th, 10th, 15th, ...
TIMEOUT = 0.25             # seconds: the lab waits 1 s; a reply takes under 1 ms here, a few ms on Wi-Fi
BUFSIZE = 1024


def dropped(count: int, loss: float) -> bool:
    """Whether the server drops its ``count``-th datagram (1, 2, ...) for a loss of share ``loss``.

    The lab draws a random number per ping; here the drops are spread evenly by count (0.2: the
    5th, 10th, ...; 0.3: the 4th, 7th, 10th), so every run, and every screenshot, is the same.
    """
    percent = round(loss * 100)
    return count * percent // 100 > (count - 1) * percent // 100


def ping_message(sequence: int, sent_at: float) -> bytes:
    """The lab's ping: "Ping N TIMESTAMP" (seconds since 1970, to the microsecond)."""
    return f"Ping {sequence} {sent_at:.6f}".encode("ascii")


def pong(data: bytes) -> bytes:
    """The lab's server reply: the ping in capitals."""
    return data.upper()


def parse_pong(data: bytes) -> tuple[int, float] | None:
    """(sequence, time sent) from a reply "PING N TIMESTAMP"; None if it is not one."""
    parts = data.split()
    if len(parts) != 3 or parts[0].upper() != b"PING":
        return None
    try:
        return int(parts[1]), float(parts[2])
    except ValueError:
        return None


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def statistics(sent: int, rtts: list[float]) -> str:
    """The summary line: how many were sent, answered and lost; RTT min, avg and max."""
    lost = sent - len(rtts)
    summary = f"{sent} sent, {len(rtts)} received, {round(100 * lost / sent) if sent else 0}% lost"
    if not rtts:
        return summary + "; no replies, so no round-trip times"
    return (f"{summary}; RTT min {milliseconds(min(rtts))}, avg {milliseconds(sum(rtts) / len(rtts))}, "
            f"max {milliseconds(max(rtts))}")


def server(me, address, ready, *, loss: float = LOSS) -> None:
    sock = me.socket(kind=SOCK_DGRAM)                  # socket(AF_INET, SOCK_DGRAM): UDP
    sock.bind(address)
    ready.set(sock.getsockname())
    if loss:
        first = [count for count in range(1, 101) if dropped(count, loss)][:3]
        me.note(f"loss switch {loss:.0%}: no reply to datagrams {', '.join(map(str, first))}, ... "
                "(counted here: the same ones every run)")
    count = 0
    with sock:
        while True:
            data, client_address = sock.recvfrom(BUFSIZE)
            count += 1
            if dropped(count, loss):
                me.note(f"datagram {count} dropped on purpose: no reply (as if lost on the way)")
                continue
            try:
                sock.sendto(pong(data), client_address)
            except OSError as problem:                 # a forged address (port 0...): skip that one
                me.error(f"no reply to {client_address[0]}:{client_address[1]}: {problem.strerror or problem}")


def client(me, address, lines) -> None:
    sock = me.socket(kind=SOCK_DGRAM)
    sock.settimeout(TIMEOUT)                           # no reply by then: counted as lost
    rtts: list[float] = []
    sent = 0
    with sock:
        for line in lines:
            if is_quit(line):
                break
            sent += 1
            sock.sendto(ping_message(sent, time.time()), address)
            try:
                reply, server_address = sock.recvfrom(BUFSIZE)
            except TimeoutError:
                me.say(f"ping {sent}: Request timed out")
                continue
            answered = parse_pong(reply)
            if answered is None:
                me.say(f"ping {sent}: a reply that is not a ping: {as_text(reply)}")
                continue
            rtts.append(time.time() - answered[1])
            me.say(f"Reply from {server_address[0]}:{server_address[1]}: {as_text(reply)}, "
                   f"RTT {milliseconds(rtts[-1])}")
        me.say(statistics(sent, rtts))
