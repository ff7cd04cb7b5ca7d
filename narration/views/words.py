"""The words a view shows for an event: one pure function, shared by the log and the ladder."""
from __future__ import annotations

from narration.events import Event
from narration.text import address_text


def detail(event: Event) -> str:
    """What follows the call's name on its line: "to 127.0.0.1:5050; local port 41234", ..."""
    call = event.call
    if call == "socket":
        return f"{event.family}, {event.kind}"
    if call == "setsockopt":
        if event.option == "SO_LINGER" and isinstance(event.value, bytes) and len(event.value) >= 4:
            import struct                     # struct linger: two ints (two u_shorts on Windows)
            on, seconds = struct.unpack("HH" if len(event.value) == 4 else "ii", event.value[:8])
            return f"SO_LINGER = {'on' if on else 'off'}, {seconds} s" + (": close() resets" if on and not seconds else "")
        return f"{event.option} = {event.value}"
    if call == "bind":
        asked, got = address_text(event.asked), address_text(event.local)
        return asked if asked == got else f"{asked} -> got {got}"
    if call == "listen":
        return f"backlog {event.backlog}; waiting for connections on {address_text(event.local)}"
    if call == "accept":
        return f"from {address_text(event.peer)}"
    if call == "connect":
        return f"to {address_text(event.peer)}; local port {event.local[1]}"
    if call == "settimeout":
        seconds = event.seconds
        return ("None: block for ever" if seconds is None else "0: non-blocking" if seconds == 0
                else f"{seconds:g} s: a blocking call gives up after that")
    if call == "timeout":
        what = {"accept": "no connection arrived", "recv": "no bytes arrived"}.get(event.waited, "no datagram arrived")
        return f"timed out after {event.seconds:g} s: {what}"
    if call == "shutdown":
        return f"{event.how} {which(event)}"
    if call == "close":
        return which(event)
    return getattr(event, "text", "")


def which(event: Event) -> str:
    """Which socket a shutdown or close was for."""
    if event.listening:
        return "the listening socket"
    if event.peer is not None:
        return f"the connection with {address_text(event.peer)}"
    return ""
