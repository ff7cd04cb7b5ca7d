"""Rendering the event stream with rich: one theme, one line per event, payloads shown safely.

Who calls what: the launcher makes one ``Narration`` per run (it remembers actor colours, port
labels and which calls were already explained) and asks it for ``line(event)`` while events
arrive (live) or for a ``LogView`` of the finished, canonically ordered run (replay, screenshots).

Network text is never markup: payloads go into ``Text`` objects, never into markup strings, and
every control character (ESC included) is shown as a visible escape such as ``\\x1b``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.text import Text
from rich.theme import Theme

from modes._narrate import Event

ACTOR_COLOURS = ("magenta", "cyan", "green", "yellow", "blue", "red", "bright_cyan", "bright_green")
THEME = Theme({
    **{f"actor.{rank}": f"bold {colour}" for rank, colour in enumerate(ACTOR_COLOURS)},
    "step": "dim",
    "time": "dim",
    "call": "bold",
    "call.data": "bold",
    "detail": "default",
    "payload": "bright_white on grey23",
    "payload.escape": "yellow on grey23",
    "bytes": "dim",
    "closed": "bold yellow",
    "say": "default",
    "note": "italic dim",
    "explain": "italic blue",
    "error": "bold red",
    "arrow.send": "bold green",
    "arrow.recv": "bold cyan",
    "rule": "dim",
})

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_PORT = re.compile(r"(?:(?<=:)|(?<=port ))\d{2,5}\b")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def safe_text(data: bytes | str, *, style: str = "payload", escape_style: str = "payload.escape") -> Text:
    """Bytes or text from the network as a Text: markup inert, control characters escaped."""
    text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else data
    result = Text(style=style)
    position = 0
    for match in _CONTROL.finditer(text):
        result.append(text[position:match.start()])
        char = match.group()
        result.append(_NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}"),
                      style=escape_style)
        position = match.end()
    result.append(text[position:])
    return result


@dataclass
class Look:
    """How a run is drawn: options the launcher sets from the command line."""

    times: bool = True          # real relative times (live view); never in screenshots
    normalise: bool = False     # stable placeholders for ports (screenshots)
    explain: bool = False       # a plain-language note the first time each call appears
    wire: bool = False          # every byte of every send and recv


ACTOR_WIDTH = 9
PAYLOAD_SHOWN = 72      # bytes of a payload in the log view; --wire shows every byte
CALL_WIDTH = 11


@dataclass
class Narration:
    """Turns events into lines; remembers what it has seen (colours, port labels, explanations)."""

    actor_rank: dict[str, int]
    look: Look = field(default_factory=Look)
    step: int = 0
    ports: dict[int, str] = field(default_factory=dict)
    peers: set = field(default_factory=set)     # addresses accepted so far: >1 means say whose bytes
    explained: set[str] = field(default_factory=set)

    def style_of(self, actor: str) -> str:
        rank = self.actor_rank.get(actor, len(self.actor_rank))
        return f"actor.{rank % len(ACTOR_COLOURS)}"

    def line(self, event: Event) -> EventLine | None:
        if event.hidden:
            return None
        self._learn_ports(event)
        self.step += 1
        prefix = Text()
        prefix.append(f"{self.step:>3} ", style="step")
        if self.look.times and not self.look.normalise:
            when = f"{event.time * 1000:7.1f}ms" if event.time < 10 else f"{event.time:8.2f}s"
            prefix.append(f"{when} ", style="time")
        actor = event.actor if len(event.actor) <= ACTOR_WIDTH else event.actor[:ACTOR_WIDTH - 1] + "…"
        prefix.append(f"{actor:<{ACTOR_WIDTH}} ", style=self.style_of(event.actor))
        return EventLine(prefix, self._body(event), self._notes(event))

    def _notes(self, event: Event) -> list[Text]:
        """Lines beneath the event: its explanation the first time (--explain), its bytes (--wire)."""
        notes = []
        if self.look.explain:
            from modes._explain import EXPLANATIONS, explanation_key
            key = explanation_key(event.call, event.size, event.detail)
            if key is not None and key not in self.explained:
                self.explained.add(key)
                notes.append(Text("ⓘ " + EXPLANATIONS[key], style="explain"))
        if self.look.wire and event.call in ("send", "sendall", "recv") and event.span is not None:
            notes.extend(wire_lines(event))
        return notes

    def _body(self, event: Event) -> Text:
        call = event.call
        if call == "say":
            # Text.assemble: a style given to Text("» ") would dim the whole line, not just the mark.
            return Text.assemble(("» ", "dim"), safe_text(self._ports(event.detail), style="say"))
        if call == "note":
            return Text("# ", style="note").append(self._ports(event.detail), style="note")
        if call == "error":
            return Text("✗ ", style="error").append_text(safe_text(self._ports(event.detail), style="error"))
        body = Text()
        body.append(f"{call:<{CALL_WIDTH}}", style="call")
        if call in ("send", "sendall", "recv"):
            body.append_text(self._data(event))
        else:
            body.append(self._ports(event.detail), style="detail")
        return body

    def _data(self, event: Event) -> Text:
        arrow, arrow_style = ("→", "arrow.send") if event.call != "recv" else ("←", "arrow.recv")
        body = Text()
        body.append(f"{arrow} ", style=arrow_style)
        body.append(f"{event.size} B ", style="bytes")
        if len(self.peers) > 1 and event.peer is not None and tuple(event.peer) in self.peers:
            body.append(self._ports(f"{'from' if event.call == 'recv' else 'to'} :{event.peer[1]} "), style="bytes")
        if event.call == "recv" and event.size == 0:
            body.append("b'' ", style="closed")
            body.append("end of stream", style="closed")
            return body
        data = event.data or b""
        shown = data if self.look.wire else data[:PAYLOAD_SHOWN]
        body.append('"', style="bytes")
        body.append_text(safe_text(self._ports(shown.decode("utf-8", "backslashreplace"))))
        body.append('"', style="bytes")
        if len(shown) < (event.size or 0):
            body.append(f" …(+{event.size - len(shown)} B)", style="bytes")
        return body

    # -- normalising ports -------------------------------------------------------------------
    def _learn_ports(self, event: Event) -> None:
        if event.call == "accept" and event.peer is not None:
            self.peers.add(tuple(event.peer))
        if not self.look.normalise:
            return
        listening = {"bind": event.local, "listen": event.local, "connect": event.peer,
                     "accept": event.local, "error": event.peer or event.local}
        ephemeral = {"connect": event.local, "accept": event.peer}
        for address, kind in ((listening.get(event.call), "PORT"), (ephemeral.get(event.call), "EPH")):
            if address and address[1] and address[1] not in self.ports:
                count = sum(label.startswith(kind) for label in self.ports.values()) + 1
                self.ports[address[1]] = kind if kind == "PORT" and count == 1 else f"{kind}{count}"

    def _ports(self, text: str) -> str:
        if not self.look.normalise or not self.ports:
            return text
        return _PORT.sub(lambda m: self.ports.get(int(m.group()), m.group()), text)


def wire_lines(event: Event) -> list[Text]:
    """Where one send or recv sits in the byte stream, and its bytes as hex if they are not text.

    With --wire the event line itself shows every byte as escaped text (never cut short); these
    lines add the stream offsets, so a student sees exactly where each recv boundary fell.
    """
    start, end = event.span
    data = event.data or b""
    head = Text(f"stream bytes {start}..{end}" if end > start else f"stream ends at byte {start}", style="bytes")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        rows = [head.append(" (not UTF-8: hex)", style="bytes")]
        for offset in range(0, len(data), 16):
            chunk = data[offset:offset + 16]
            rows.append(Text(f"{start + offset:>6}  {chunk.hex(' '):<47}", style="payload.escape"))
        return rows
    return [head]


class EventLine:
    """One event: a fixed-width prefix (step, time, actor), then a body that wraps beneath itself,
    then optional notes (explanations, wire bytes) in the same column."""

    def __init__(self, prefix: Text, body: Text, notes: list[Text] | None = None) -> None:
        self.prefix = prefix
        self.body = body
        self.notes = notes or []

    def __rich_console__(self, console, options):
        # Segments, not Text: a Text would be wrapped a second time by the console (start-up
        # is budgeted, and rendering is most of a scripted run's own cost).
        from rich.segment import Segment

        indent = self.prefix.cell_len
        width = max(20, options.max_width - indent)
        blank = Text(" " * indent)
        for number, piece in enumerate(_wrapped(self.body, console, width)):
            yield from (self.prefix if number == 0 else blank).render(console)
            yield from piece.render(console)
            yield Segment.line()
        for note in self.notes:
            for piece in _wrapped(note, console, width):
                yield from blank.render(console)
                yield from piece.render(console)
                yield Segment.line()


def _wrapped(text: Text, console, width: int) -> list[Text]:
    if text.cell_len <= width and "\n" not in text.plain:   # the usual case: it fits
        if text.plain.endswith(" "):
            text = text.copy()
            text.rstrip()
        return [text]
    pieces = text.wrap(console, width, overflow="fold")
    for piece in pieces:
        piece.rstrip()
    return list(pieces)


class LiveView:
    """Prints events as they are recorded (interactive runs, split roles), from its own thread.

    Recording only queues the event, so a busy server never waits for the terminal.  For a server
    role (``may_skip``), when the queue backs up (a chat of 200 students sends tens of thousands of lines a second), the view
    stops asking for send/recv events, which are then not even built, and prints once a second how
    many it did not show; connections, notes and errors are still shown one by one.
    """

    BUSY = 200          # queued events that mean the terminal has fallen behind
    SUMMARY_EVERY = 1.0  # seconds between "not shown" lines while busy

    def __init__(self, console, narration: Narration, *, may_skip: bool = True, limit: int = 5000) -> None:
        import queue
        import threading
        self.console = console
        self.narration = narration
        self.wants_data = True
        self._not_shown: dict[str, list[int]] = {}
        self.may_skip = may_skip    # False: show every event, however far behind (a client's own run)
        self._queue: queue.Queue = queue.Queue(limit if may_skip else 0)
        self._thread = threading.Thread(target=self._print, name="live view", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:    # a Trace listener: called under the trace's lock
        if event.hidden:
            return
        if self.may_skip and self._queue.qsize() > self.BUSY:
            self.wants_data = False
        try:
            self._queue.put_nowait(event)
        except Exception:   # queue.Full: count it like a data event the view did not want
            self.tally(event.call, event.size or 0)

    def tally(self, call: str, size: int) -> None:
        counts = self._not_shown.setdefault(call, [0, 0])
        counts[0] += 1
        counts[1] += size

    def close(self, timeout: float | None = None) -> None:
        """Print what is still queued (waiting at most ``timeout`` seconds, or until done), then stop."""
        try:
            self._queue.put(None, timeout=timeout)
        except Exception:
            return
        self._thread.join(timeout)

    def _print(self) -> None:
        import queue
        import signal
        import time
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})   # Ctrl-C belongs to the main thread
        next_summary = time.monotonic() + self.SUMMARY_EVERY
        while True:
            try:
                event = self._queue.get(timeout=self.SUMMARY_EVERY)
            except queue.Empty:
                event = ...
            if event is None:
                if self._not_shown:
                    self._summarise()
                return
            if event is not ...:
                line = self.narration.line(event)
                if line is not None:
                    self.console.print(line)
            if not self.wants_data and time.monotonic() >= next_summary:
                # Show every call again only once the rate has dropped to what a person can read.
                missed = sum(number for number, _ in self._not_shown.values())
                self._summarise()
                self.wants_data = missed < self.BUSY
                next_summary = time.monotonic() + self.SUMMARY_EVERY
            elif self.wants_data:
                next_summary = time.monotonic() + self.SUMMARY_EVERY

    def _summarise(self) -> None:
        counts, self._not_shown = self._not_shown, {}
        if not counts:
            return
        words = ", ".join(f"{number} {call} ({size} B)" for call, (number, size) in sorted(counts.items()))
        self.console.print(Text(f"    … busy: not shown: {words}", style="note"))


class LogView:
    """A finished run as a rich renderable: one line per visible event."""

    def __init__(self, events: list[Event], narration: Narration) -> None:
        self.events = events
        self.narration = narration

    def rows(self, width: int):
        """One renderable per visible event (for pacing, one at a time)."""
        for event in self.events:
            line = self.narration.line(event)
            if line is not None:
                yield line

    def __rich_console__(self, console, options):
        yield from self.rows(options.max_width)
