"""The log view: one line per event, in colour, payloads shown safely.

    LogView(events, actor_rank, look)     a finished run (canonical order): a rich renderable
    Narrator(actor_rank, look)            turns events into lines one by one (the live view's)

Rendering is a pure function of the events: a ``LogView`` printed twice prints the same twice
(each drawing starts its own ``Narrator``).  Network text is never markup: payloads go into
``Text`` objects, and every character of ``narration.text``'s table is shown as its spelling
(``\\x1b``), in its own style.
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from narration.events import Event
from narration.order import lost
from narration.text import CONTROL, PORT_NUMBER, address_text, spelled, timeless
from narration.views.theme import actor_style
from narration.views.words import detail

ACTOR_WIDTH = 9
PAYLOAD_SHOWN = 72      # bytes of a payload in the log view; --wire shows every byte
CALL_WIDTH = 11


def safe_text(data: bytes | str, *, style: str = "payload", escape_style: str = "payload.escape") -> Text:
    """Bytes or text from the network as a Text: markup inert, control characters spelled out."""
    text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else data
    result = Text(style=style)
    position = 0
    for match in CONTROL.finditer(text):
        result.append(text[position:match.start()])
        result.append(spelled(match.group()), style=escape_style)
        position = match.end()
    result.append(text[position:])
    return result


@dataclass(frozen=True)
class Look:
    """How a run is drawn: options the launcher sets from the command line."""

    times: bool = True          # real relative times (live view); never in screenshots
    normalise: bool = False     # stable placeholders for ports (screenshots)
    explain: bool = False       # a plain-language note the first time each call appears
    wire: bool = False          # every byte of every send and recv


class PortLabels:
    """Ports as stable words for screenshots: the server's is PORT, clients' EPH1, EPH2, ...
    (and time figures in text as placeholders: ``narration.text.timeless``)."""

    def __init__(self, normalise: bool) -> None:
        self.normalise = normalise
        self.labels: dict[int, str] = {}

    def learn(self, event: Event) -> None:
        if not self.normalise:
            return
        local, peer = getattr(event, "local", None), getattr(event, "peer", None)
        listening = {"bind": local, "listen": local, "connect": peer, "accept": local, "error": peer or local,
                     "sendto": peer}
        ephemeral = {"connect": local, "accept": peer, "sendto": local, "recvfrom": peer}
        for address, kind in ((listening.get(event.call), "PORT"), (ephemeral.get(event.call), "EPH")):
            if address and address[1] and address[1] not in self.labels:
                count = sum(label.startswith(kind) for label in self.labels.values()) + 1
                self.labels[address[1]] = kind if kind == "PORT" and count == 1 else f"{kind}{count}"

    def __call__(self, text: str) -> str:
        if not self.normalise:
            return text
        text = timeless(text)
        if not self.labels:
            return text
        return PORT_NUMBER.sub(lambda m: self.labels.get(int(m.group()), m.group()), text)


class Narrator:
    """Turns events into lines, remembering what one drawing has seen so far (ports, peers,
    explanations given, the step number).  One per drawing: never shared between two."""

    def __init__(self, actor_rank: dict[str, int], look: Look | None = None) -> None:
        self.actor_rank = actor_rank
        self.look = look or Look()
        self.step = 0
        self.ports = PortLabels(self.look.normalise)
        self.peers: set = set()     # addresses accepted so far: >1 means say whose bytes
        self.explained: set[str] = set()

    def style_of(self, actor: str) -> str:
        return actor_style(self.actor_rank.get(actor, len(self.actor_rank)))

    def learn(self, event: Event) -> None:
        """Take in an event's addresses (port labels, peers) and count it as the next step."""
        if event.call == "accept" and event.peer is not None:
            self.peers.add(tuple(event.peer))
        self.ports.learn(event)
        self.step += 1

    def line(self, event: Event, time: float | None = None) -> EventLine | None:
        if event.hidden:
            return None
        if event.call == "tcp":                   # beneath its call, in the call's column: no step of its own
            width = 4 + ACTOR_WIDTH + 1 + (9 if self.look.times and not self.look.normalise and time is not None else 0)
            return EventLine(Text(" " * width), tcp_text(event))
        self.learn(event)
        prefix = Text()
        prefix.append(f"{self.step:>3} ", style="step")
        if self.look.times and not self.look.normalise and time is not None:
            when = f"{time * 1000:7.1f}ms" if time < 10 else f"{time:8.2f}s"
            prefix.append(f"{when} ", style="time")
        actor = event.actor if len(event.actor) <= ACTOR_WIDTH else event.actor[:ACTOR_WIDTH - 1] + "…"
        prefix.append(f"{actor:<{ACTOR_WIDTH}} ", style=self.style_of(event.actor))
        return EventLine(prefix, self._body(event), self._notes(event))

    def _notes(self, event: Event) -> list[Text]:
        """Lines beneath the event: its explanation the first time (--explain), its bytes (--wire)."""
        notes = []
        if self.look.explain:
            from narration.views.explain import EXPLANATIONS, explanation_key
            key = explanation_key(event)
            if key is not None and key not in self.explained:
                self.explained.add(key)
                # ✎, not ⓘ: DejaVu Sans Mono (the PNG font) has no ⓘ and would draw a box
                notes.append(Text("✎ " + EXPLANATIONS[key], style="explain"))
        if self.look.wire and event.call in ("send", "sendall", "recv", "sendto", "recvfrom"):
            notes.extend(wire_lines(event))
        return notes

    def _body(self, event: Event) -> Text:
        call = event.call
        if call == "say":
            # Text.assemble: a style given to Text("» ") would dim the whole line, not just the mark.
            return Text.assemble(("» ", "say.mark"), safe_text(self.ports(event.text), style="say"))
        if call == "note":
            return Text("# ", style="note").append(self.ports(event.text), style="note")
        if call == "error":
            return Text("✗ ", style="error").append_text(safe_text(self.ports(event.text), style="error"))
        body = Text()
        if call == "timeout":                     # shown on the line of the call that gave up
            body.append(f"{event.waited:<{CALL_WIDTH}}", style="call")
            return body.append("✗ " + detail(event), style="closed")
        label = called(event)
        body.append(f"{label:<{CALL_WIDTH}}" if len(label) < CALL_WIDTH else f"{label} ", style="call")
        if call in ("send", "sendall", "recv"):
            body.append_text(self._data(event))
        elif call in ("sendto", "recvfrom"):
            body.append_text(self._datagram(event))
        else:
            body.append(self.ports(detail(event)), style="detail")
        return body

    def _data(self, event: Event) -> Text:
        arrow, arrow_style = ("→", "arrow.send") if event.call != "recv" else ("←", "arrow.recv")
        body = Text()
        body.append(f"{arrow} ", style=arrow_style)
        body.append(f"{amount(event)} ", style="bytes")
        if len(self.peers) > 1 and event.peer is not None and tuple(event.peer) in self.peers:
            body.append(self.ports(f"{'from' if event.call == 'recv' else 'to'} :{event.peer[1]} "), style="bytes")
        if event.call == "recv" and event.size == 0:
            body.append("b'' ", style="closed")
            body.append("end of stream", style="closed")
            return body
        return self._quoted(event, body)

    def _datagram(self, event: Event) -> Text:
        """One whole datagram, always with its address: where it went, or where it came from."""
        sending = event.call == "sendto"
        body = Text()
        body.append("→ " if sending else "← ", style="arrow.send" if sending else "arrow.recv")
        body.append(f"{amount(event)} ", style="bytes")
        body.append(self.ports(f"{'to' if sending else 'from'} {address_text(event.peer)} "), style="bytes")
        return self._quoted(event, body)

    def _quoted(self, event: Event, body: Text) -> Text:
        """``body`` followed by the payload in quotes (cut to PAYLOAD_SHOWN bytes unless --wire)."""
        shown = event.data if self.look.wire else event.data[:PAYLOAD_SHOWN]
        body.append('"', style="bytes")
        body.append_text(safe_text(self.ports(shown.decode("utf-8", "backslashreplace"))))
        body.append('"', style="bytes")
        if len(shown) < event.size:
            body.append(f" …(+{event.size - len(shown)} B)", style="bytes")
        return body


def tcp_words(state: str | None, unread: int | None, unsent: int | None) -> str:
    """``ESTABLISHED``, ``CLOSE_WAIT, 27 B unread``, ``gone`` (the kernel has forgotten it), or
    ``not readable here`` (a closed connection, where the OS keeps its table to itself)."""
    queues = [f"{count} B {what}" for count, what in ((unread, "unread"), (unsent, "unsent")) if count]
    return ", ".join(["not readable here" if state == "?" else state or "gone", *queues])


def tcp_text(event: Event) -> Text:
    """A kernel reading (--tcp): this end's state and queues, then the other end's."""
    text = Text("┆ tcp ", style="tcp.mark")
    text.append(f"{event.actor}: ", style="tcp")
    text.append(tcp_words(event.state, event.unread, event.unsent), style="tcp.state")
    if event.peer_actor is not None:
        text.append(f" · {event.peer_actor}: ", style="tcp")
        text.append(tcp_words(event.peer_state, event.peer_unread, event.peer_unsent), style="tcp.state")
    return text


def called(event: Event) -> str:
    """The call's name, with how many calls a folded event stands for: ``sendall ×1,000``."""
    count = getattr(event, "count", 1)
    return event.call if count == 1 else f"{event.call} ×{count:,}"


def amount(event: Event) -> str:
    """An event's byte count: exact for one call, ``1.0 MB in all`` for a folded run of them."""
    if getattr(event, "count", 1) == 1:
        return f"{event.size} B"
    size = event.size
    figure = f"{size:,} B" if size < 10_000 else f"{size / 1e3:.1f} kB" if size < 1e6 else f"{size / 1e6:.1f} MB"
    return f"{figure} in all"


def wire_lines(event: Event) -> list[Text]:
    """Where one send or recv sits in the byte stream, and its bytes as hex if they are not text.

    With --wire the event line itself shows every byte as escaped text (never cut short); these
    lines add the stream offsets, so a student sees exactly where each recv boundary fell.
    """
    data = event.data
    if getattr(event, "span", None) is None:        # a datagram: a whole message, not a stream
        start = 0
        head = Text(f"one whole datagram of {event.size} bytes (no stream: nothing before or after it)", style="bytes")
    else:
        start, end = event.span
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


class LogView:
    """A finished run as a rich renderable: one line per visible event."""

    def __init__(self, events: list[Event], actor_rank: dict[str, int], look: Look | None = None) -> None:
        self.events = events
        self.actor_rank = actor_rank
        self.look = look or Look()

    def rows(self, width: int):
        """One renderable per visible event (for pacing, one at a time)."""
        narrator = Narrator(self.actor_rank, self.look)
        never_received = lost(self.events)
        for index, event in enumerate(self.events):
            line = narrator.line(event)
            if line is not None:
                if index in never_received:
                    line.notes.append(Text("✗ lost: no recvfrom ever returned this datagram", style="closed"))
                yield line

    def __rich_console__(self, console, options):
        yield from self.rows(options.max_width)
