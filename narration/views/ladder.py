"""The ladder view (--view ladder): a sequence diagram of the real run.

One vertical lane per actor; an arrow for each message with its payload (cut to fit) and byte
count; ``connect`` drawn as the connection being set up (═▶), ``close``/``shutdown`` as it ending
(╌▶); a UDP datagram as an arrow of its own (``sendto``), and one that was never received as an
arrow that stops short (──✗); everything else as a short label on its actor's lane.  Drawn from
the same events, in the same canonical order, as the log view, so it is deterministic and can be
screenshotted.

    server               client
      │  ◀══ connect ═══  │
      │ accept            │
      │  ◀── "hello\\n" 6 B │
"""
from __future__ import annotations

from rich.text import Text

from narration.events import Event
from narration.order import lost
from narration.text import address_text
from narration.views.log import Look, Narrator, amount, called, safe_text
from narration.views.words import detail

STEP_WIDTH = 4


def lane_width_needed(lanes: int) -> int:
    """Columns a ladder of this many lanes needs to stay readable: two lanes fit 80; three get
    100, so that payloads on the arrows keep a useful length; each further lane adds 26."""
    return 80 if lanes <= 2 else 100 + 26 * (lanes - 3)


class LadderView:
    """A rich renderable drawing ``events`` (canonical order) as a ladder; drawing it twice draws
    the same twice (each drawing starts its own ``Narrator``)."""

    def __init__(self, events: list[Event], actor_rank: dict[str, int], look: Look | None = None) -> None:
        self.events = [event for event in events if not event.hidden]
        self.actor_rank = actor_rank
        self.look = look or Look()
        self.lanes = sorted({event.actor for event in self.events},
                            key=lambda actor: (actor_rank.get(actor, 99), actor))
        self.owner: dict[tuple, str] = {}
        self.port_owner: dict[int, str] = {}    # datagrams: by port (sent from 0.0.0.0, received from 127.0.0.1)
        for event in self.events:
            if event.call in ("bind", "connect", "accept", "sendto", "recvfrom") and event.local is not None:
                self.owner.setdefault(tuple(event.local), event.actor)
                self.port_owner.setdefault(event.local[1], event.actor)
        for event in self.events:            # peers we never saw from the inside: netcat and friends
            if event.call == "accept" and event.peer is not None and tuple(event.peer) not in self.owner:
                label = f"peer :{event.peer[1]}"
                self.owner[tuple(event.peer)] = label
                self.lanes.append(label)
            elif event.call == "recvfrom" and event.peer[1] not in self.port_owner:
                label = f"peer :{event.peer[1]}"
                self.port_owner[event.peer[1]] = label
                self.lanes.append(label)
        self.lost = lost(self.events)         # indices of datagrams never received

    def __rich_console__(self, console, options):
        yield from self.rows(options.max_width)

    def rows(self, width: int):
        """The header, then one row per visible event (for pacing, one at a time)."""
        # Lanes start at the left; the last lane keeps room on its right for its labels.
        first = STEP_WIDTH + 3
        tail = max(18, width // 4)
        lane = max(8, (width - first - tail) // max(1, len(self.lanes) - 1))
        centres = {name: first + lane * index for index, name in enumerate(self.lanes)}
        narrator = Narrator(self.actor_rank, self.look)
        last = self.lanes[-1] if self.lanes else None
        header = self._row(width, centres)
        for name, centre in centres.items():
            title = name if len(name) <= lane - 2 else name[:lane - 3] + "…"
            self._put(header, max(0, centre - len(title) // 2), title, narrator.style_of(name), width)
        yield self._finish(header)
        shown_states: dict[tuple, str] = {}      # --tcp: the state last written on each lane, per connection
        for index, event in enumerate(self.events):
            if event.call == "tcp":               # lane labels where a state changed; no step of its own
                row = self._row(width, centres)
                if self._states(row, event, centres, lane, width, shown_states):
                    yield self._finish(row)
                continue
            narrator.learn(event)
            row = self._row(width, centres)
            self._put(row, 0, f"{narrator.step:>3}", "step", width)
            room = (width - centres[event.actor] - 2) if event.actor == last else lane - 3
            self._draw(row, event, centres, room, width, narrator, lost=index in self.lost)
            yield self._finish(row)

    # -- drawing -----------------------------------------------------------------------------
    def _states(self, row, event: Event, centres: dict, lane: int, width: int, shown: dict) -> bool:
        """A kernel reading (--tcp) as labels on the lanes of both ends, where a state changed."""
        from narration.views.log import tcp_words

        wrote = False
        ends = [(event.actor, (event.local, event.peer), event.state, event.unread, event.unsent)]
        if event.peer_actor is not None:
            ends.append((event.peer_actor, (event.peer, event.local), event.peer_state, event.peer_unread,
                         event.peer_unsent))
        for actor, connection, state, unread, unsent in ends:
            words = tcp_words(state, unread, unsent)
            key = (actor, connection)
            if actor not in centres or shown.get(key) == words:
                continue
            shown[key] = words
            self._put(row, centres[actor], "◇", "tcp.mark", width)
            self._label(row, centres[actor] + 2, Text(words, style="tcp.state"), width, limit=lane - 3)
            wrote = True
        return wrote

    def _draw(self, row, event: Event, centres: dict, room: int, width: int, narrator: Narrator, *,
              lost: bool = False) -> None:
        me = centres[event.actor]
        style = narrator.style_of(event.actor)
        target = self.target(event)
        there = centres.get(target) if target is not None else None
        if event.call in ("send", "sendall", "sendto") and there is not None and there != me:
            label = self._payload(event, narrator)
            self._arrow(row, me, there, "─", label, "arrow.lost" if lost else "arrow.send", width, lost=lost)
        elif event.call == "connect" and there is not None and there != me:
            self._arrow(row, me, there, "═", Text("connect"), "arrow.send", width)
        elif event.call in ("close", "shutdown") and there is not None and there != me:
            self._arrow(row, me, there, "╌", Text(event.call), "closed", width)
        else:
            self._put(row, me, "●", style, width)
            self._label(row, me + 2, self.caption(event, narrator), width, limit=room)

    def target(self, event: Event) -> str | None:
        """The lane an event points at: the owner of its peer address (a datagram: of its port)."""
        peer = getattr(event, "peer", None)
        target = self.owner.get(tuple(peer)) if peer is not None else None
        if target is None and event.call == "sendto":
            target = self.port_owner.get(peer[1])
        return target

    @staticmethod
    def caption(event: Event, narrator: Narrator) -> Text:
        """What the ladder writes beside an actor's lane for a call that is not an arrow."""
        ports = narrator.ports
        if event.call == "recv":
            if event.size == 0:
                return Text("recv b'' (end of stream)", style="closed")
            return Text.assemble(Text(f"{called(event)} ", style="call"), Text(amount(event), style="bytes"))
        if event.call == "recvfrom":
            return Text.assemble(Text(f"{called(event)} ", style="call"), Text(amount(event), style="bytes"))
        if event.call == "timeout":
            return Text(f"✗ {event.waited} timed out ({event.seconds:g} s)", style="closed")
        if event.call == "settimeout":
            return Text("settimeout " + ("None" if event.seconds is None else f"{event.seconds:g} s"), style="call")
        if event.call == "say":
            return Text.assemble(("» ", "say.mark"), safe_text(ports(event.text), style="say"))
        if event.call == "note":
            return Text("# " + ports(event.text), style="note")
        if event.call == "error":
            return safe_text("✗ " + ports(event.text), style="error")
        if event.call == "bind":
            return Text(f"bind {ports(address_text(event.local))}", style="call")
        if event.call == "accept":
            return Text(f"accept {ports(detail(event))}", style="call")
        if event.call == "setsockopt":
            return Text(f"setsockopt {event.option}", style="call")
        return Text(event.call, style="call")

    @staticmethod
    def _payload(event: Event, narrator: Narrator) -> Text:
        text = safe_text(narrator.ports(event.data.decode("utf-8", "backslashreplace")))
        fold = "" if getattr(event, "count", 1) == 1 else f"×{event.count:,} "
        return Text.assemble(Text(fold + '"', style="bytes"), text, Text(f'" {amount(event)}', style="bytes"))

    def _arrow(self, row, start: int, end: int, line: str, label: Text, style: str, width: int, *,
               lost: bool = False) -> None:
        left, right = sorted((start, end))
        span = right - left - 1
        reach = min(span, max(3, span * 2 // 3)) if lost else span   # a lost datagram never gets there
        body = [line] * reach
        head = "✗" if lost else "▶" if end > start else "◀"
        if end > start:
            first = left + 1
            body[-1] = head
        else:
            first = right - reach
            body[0] = head
        self._put(row, first, "".join(body), style, width)
        room = reach - 6                     # keep two line cells and the head clear at each end
        if room >= 3:
            if label.cell_len > room:
                label = label[:room - 1] + Text("…")
            label = Text(" ") + label + Text(" ")
            offset = first + (reach - label.cell_len) // 2
            self._put_text(row, offset, label, width)

    def _label(self, row, column: int, label: Text, width: int, limit: int) -> None:
        limit = min(limit, width - column)
        if limit <= 1:
            return
        if label.cell_len > limit:
            label = label[:limit - 1] + Text("…")
        self._put_text(row, column, label, width)

    # -- a row is a list of (character, style) cells -----------------------------------------
    @staticmethod
    def _row(width: int, centres: dict) -> list:
        row = [(" ", None)] * width
        for centre in centres.values():
            if centre < width:
                row[centre] = ("│", "rule")
        return row

    @staticmethod
    def _put(row, column: int, text: str, style, width: int) -> None:
        for offset, char in enumerate(text):
            if 0 <= column + offset < width:
                row[column + offset] = (char, style)

    @staticmethod
    def _put_text(row, column: int, text: Text, width: int) -> None:
        for offset, char in enumerate(text.plain):
            if 0 <= column + offset < width:
                styles = [span.style for span in text.spans if span.start <= offset < span.end]
                row[column + offset] = (char, styles[-1] if styles else text.style or None)

    @staticmethod
    def _finish(row) -> Text:
        line = Text(end="\n")
        for char, style in row:
            line.append(char, style=style)
        line.rstrip()
        return line
