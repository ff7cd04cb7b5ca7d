"""The ladder as a Mermaid ``sequenceDiagram`` (``--screenshot run.mmd``), which GitHub and most
documentation sites draw from text.

The same events, in the same canonical order, as the ladder view: each actor a participant; a
``send``, ``sendall`` or ``sendto`` an arrow with its payload and byte count (a datagram that was
never received, an arrow ending in a cross); ``connect`` an arrow of its own; ``close`` and
``shutdown`` a dotted arrow to the peer; every other call, each ``say`` and each teaching note, a
note over its actor, in the ladder's own words (``LadderView.caption``).

Text from the network is never Mermaid syntax: control characters are spelled out (``\\x1b``),
and every character Mermaid would read as syntax or markup (``&``, ``#``, ``;``, ``<``, ``>``, ``"``,
``%``, ``{``, ``}``, newlines) becomes one of its entity codes (``#35;``), so a payload can
neither end a statement nor open a tag.
"""
from __future__ import annotations

from narration.text import CONTROL, spelled

PAYLOAD_SHOWN = 40          # characters of a payload on an arrow; the byte count stays exact
_ENTITIES = {"&": "#38;", "#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", '"': "#quot;", "%": "#37;",
             "{": "#123;", "}": "#125;", "\n": " ", "\r": " "}


def escaped(text: str) -> str:
    """Any text as inert Mermaid message text: spelled-out controls, entity codes for syntax."""
    shown = CONTROL.sub(lambda match: spelled(match.group()), text)     # as the log view spells them
    return "".join(_ENTITIES.get(char, char) for char in shown)


def mermaid(events, actor_rank: dict[str, int], look=None) -> str:
    """The Mermaid source for a finished run's events (canonical order, hidden ones left out)."""
    from narration.views.ladder import LadderView
    from narration.views.log import Narrator, amount

    ladder = LadderView(events, actor_rank, look)
    narrator = Narrator(actor_rank, look)
    ids = {lane: f"P{index}" for index, lane in enumerate(ladder.lanes)}
    lines = ["sequenceDiagram"]
    lines += [f"    participant {ids[lane]} as {escaped(lane)}" for lane in ladder.lanes]
    for index, event in enumerate(ladder.events):
        narrator.learn(event)
        ports = narrator.ports
        me = ids[event.actor]
        target = ladder.target(event)
        there = ids.get(target) if target is not None else None
        if event.call in ("send", "sendall", "sendto") and there is not None and there != me:
            payload = ports(event.data.decode("utf-8", "backslashreplace"))
            cut = payload[:PAYLOAD_SHOWN] + ("…" if len(payload) > PAYLOAD_SHOWN else "")
            fold = "" if getattr(event, "count", 1) == 1 else f"×{event.count:,} "
            arrow = "-x" if index in ladder.lost else "->>"
            quoted = '"' + cut + '"'
            lines.append(f"    {me}{arrow}{there}: {fold}{escaped(quoted)} {amount(event)}")
        elif event.call == "connect" and there is not None and there != me:
            lines.append(f"    {me}->>{there}: connect")
        elif event.call in ("close", "shutdown") and there is not None and there != me:
            lines.append(f"    {me}--){there}: {event.call}")
        else:
            lines.append(f"    Note over {me}: {escaped(ladder.caption(event, narrator).plain)}")
    return "\n".join(lines) + "\n"
