"""Where does a message end?  Pure functions over bytes, with no sockets (the h11 lesson).

TCP delivers a byte stream, not messages: one ``recv`` may return half a message, or three.
Every mode here uses the same rule, chosen so that two kinds of client both work:

- netcat and telnet users end each message with a newline (``\\n``; a ``\\r`` before it is
  dropped), so a message ends at each newline;
- a textbook homework client sends one message with a single ``send()`` and no newline, then
  waits for the reply; so bytes that arrive with no newline are one message once the peer pauses
  (no more bytes within a moment) or closes its side.

Every reply is one line ending in ``\\n``, sent with one ``sendall``: netcat prints it as a line,
and a textbook client's single ``recv(1024)`` gets all of it.

``LineBuffer`` is the stateful splitter; it never holds more than ``limit`` bytes of a line, so a
peer that pastes megabytes without a newline costs bounded memory.

Telnet clients (Windows telnet, PuTTY in telnet mode) open with option negotiation, bytes that
start with IAC (255), and Windows telnet sends every key as it is typed.  A connection that opens
with IAC WILL, IAC DO or IAC SB is read as telnet (``Telnet``): negotiation is taken out of the stream, a backspace
takes back the character before it, Enter (CR LF, CR NUL or a lone CR) ends the line, and the
pause rule is off, since a person typing key by key pauses between keys.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_LINE = 64 * 1024
RULE = "messages end at a newline, or where the sender pauses without one"


@dataclass(frozen=True)
class TooLong:
    """Stands in for a line longer than the limit; its bytes were dropped, not kept."""

    size: int


IAC, SE, SB, WILL, DO, DONT = 255, 240, 250, 251, 253, 254
BACKSPACES = {0x08, 0x7F}


class Telnet:
    """The telnet side of a stream, taken out: ``clean(data)`` returns what the person typed, with
    negotiation removed, backspaces applied to ``line`` (the unfinished line so far), and every
    Enter as one ``\n``.  Stateful, since a negotiation can be split across two recv() calls."""

    def __init__(self) -> None:
        self._state = "data"
        self._after_cr = False

    def clean(self, data: bytes, line: bytearray) -> bytes:
        out = bytearray()
        for byte in data:
            state = self._state
            if state == "data":
                if byte == IAC:
                    self._state = "iac"
                elif self._after_cr and byte in (0x00, 0x0A):
                    self._after_cr = False             # CR NUL or CR LF: the \n is already out
                elif byte == 0x0D:
                    out.append(0x0A)
                    self._after_cr = True
                elif byte in BACKSPACES:
                    self._after_cr = False
                    if out:
                        if out[-1] != 0x0A:                # never back over an Enter already typed
                            del out[-1]
                    elif line:
                        del line[-1]
                else:
                    self._after_cr = False
                    out.append(byte)
            elif state == "iac":
                if byte == IAC:
                    out.append(IAC)                    # IAC IAC: a real 255
                    self._state = "data"
                else:
                    self._state = ("option" if WILL <= byte <= DONT else "sb" if byte == SB else "data")
            elif state == "option":
                self._state = "data"                   # the option byte of WILL/WONT/DO/DONT
            elif state == "sb":
                self._state = "sb-iac" if byte == IAC else "sb"
            else:                                      # "sb-iac": IAC SE ends a subnegotiation
                self._state = "data" if byte == SE else "sb"
        return bytes(out)


class LineBuffer:
    """Split a byte stream into lines.  Feed it whatever ``recv`` returned, in order."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.telnet: Telnet | None = None   # set when the stream opens with telnet negotiation
        self._first = True
        self._held = b""
        self.limit = limit
        self._partial = bytearray()
        self._dropping = 0          # >0 while skipping the rest of an over-long line
        self.unread: deque[bytes | TooLong] = deque()   # split off, not yet taken by recv_line

    @property
    def pending(self) -> bool:
        """True when bytes of an unfinished line are waiting for their end."""
        return bool(self._partial) or self._dropping > 0

    def feed(self, data: bytes, quiet: Callable[[], bool] | None = None) -> list[bytes | TooLong]:
        """Return the messages completed by ``data``.

        ``quiet`` is asked, only when an unfinished line is left over, whether the peer has paused;
        if it has, the leftover is a message too (a textbook client that sends no newline).
        """
        data = self.typed(data)
        messages: list[bytes | TooLong] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                self._take(data[start:])
                break
            self._take(data[start:newline])
            messages.append(self._finish())
            start = newline + 1
        if self.pending and quiet is not None and self.telnet is None and quiet():
            messages.extend(self.flush())
        return messages

    @property
    def waits_for_newline(self) -> bool:
        """True when a pause does not end a line (a telnet user types key by key)."""
        return self.telnet is not None

    def typed(self, data: bytes) -> bytes:
        """``data`` as typed: telnet negotiation and editing taken out, if the stream is telnet."""
        if self._first and data:
            data, self._held = self._held + data, b""
            if data == bytes([IAC]):
                self._held = data                      # one byte: IAC, but of what? wait for the next
                return b""
            self._first = False
            if data[0] == IAC and data[1] in (WILL, DO, SB):   # how telnet clients open; DONT/WONT only answer
                self.telnet = Telnet()
        return self.telnet.clean(data, self._partial) if self.telnet is not None else data

    def take(self, unread: bytearray) -> bytes | TooLong | None:
        """The first whole line in ``unread`` (its bytes removed from it), or None when it holds no
        newline (then all its bytes join the unfinished line).  One line at a time, for a server
        that takes turns between peers: what waits is raw bytes, never a list of small lines."""
        newline = unread.find(b"\n")
        if newline < 0:
            self._take(bytes(unread))
            unread.clear()
            return None
        self._take(bytes(unread[:newline]))
        del unread[:newline + 1]               # cheap: a bytearray drops its head in place
        return self._finish()

    def flush(self) -> list[bytes | TooLong]:
        """The unfinished line as a message (the peer paused or closed), or nothing."""
        return [self._finish()] if self.pending else []

    def _take(self, chunk: bytes) -> None:
        if self._dropping:
            self._dropping += len(chunk)
        elif len(self._partial) + len(chunk) > self.limit:
            self._dropping = len(self._partial) + len(chunk)
            self._partial.clear()
        else:
            self._partial += chunk

    def _finish(self) -> bytes | TooLong:
        if self._dropping:
            message: bytes | TooLong = TooLong(self._dropping)
            self._dropping = 0
        else:
            message = bytes(self._partial).removesuffix(b"\r")
            self._partial.clear()
        return message


def recv_line(sock, buffer: LineBuffer, bufsize: int = 1024) -> bytes | TooLong | None:
    """The next whole line from ``sock`` (calling ``recv`` as often as it takes); None once closed."""
    while not buffer.unread:
        data = sock.recv(bufsize)
        if not data:                      # b'' : the peer closed; a last unfinished line counts
            buffer.unread.extend(buffer.flush())
            if not buffer.unread:
                return None
            break
        buffer.unread.extend(buffer.feed(data, quiet=sock.quiet))
    return buffer.unread.popleft()


def recv_reply(sock, buffer: LineBuffer, bufsize: int = 1024) -> list[bytes | TooLong]:
    """A whole reply: its first line (waiting for it), then every further line that came with it
    (a server that answers in two lines, in one send).  Empty once the peer has closed."""
    first = recv_line(sock, buffer, bufsize)
    if first is None:
        return []
    rest = list(buffer.unread)
    buffer.unread.clear()
    return [first, *rest]


def as_text(message: bytes | TooLong) -> str:
    """A received line as text, never failing: bad bytes become \\x escapes."""
    if isinstance(message, TooLong):
        return f"(a line of {message.size} bytes, too long to keep)"
    return message.decode("utf-8", "backslashreplace")


class BadText(ValueError):
    """A message that is not acceptable text; str(error) is the reply to send back."""


def decode_line(message: bytes | TooLong, *, limit: int = MAX_LINE) -> str:
    """The message as text, or BadText saying (politely) what was wrong with it."""
    if isinstance(message, TooLong):
        return _raise(f"error: line too long ({message.size} bytes; the limit is {limit})")
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        return _raise("error: that was not UTF-8 text")
    if not text.strip():
        return _raise("error: empty line; type some text")
    return text


def _raise(reply: str) -> str:
    raise BadText(reply)


def reply_line(text: str) -> bytes:
    """One reply: UTF-8, one line, ending in a newline (no newline may hide inside)."""
    return (text.replace("\r", " ").replace("\n", " ") + "\n").encode("utf-8")
