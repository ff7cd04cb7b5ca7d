"""One stable order for a finished run, and ports made stable: what makes output deterministic.

Threads record events in whatever order the scheduler runs them.  ``canonical(trace)`` turns that
into one order after the run: each thread's own events stay in program order; a ``recv`` comes
after the ``send`` whose bytes it returned, an ``accept`` after the ``connect`` it answered, a
``b''`` after the peer's ``close`` (or this end's own ``shutdown``), a ``recvfrom`` after the
``sendto`` whose datagram it returned (``datagrams``), a waiter after what it waited for (``Recorded.after``); and
among events free to go next, the lower-ranked actor (the server, then clients in script order)
goes first; an event that ``follows_its_call`` (a ``TcpState`` reading) comes right after its
call.  The same scripted run therefore renders the same way every time.

``datagrams(events)`` pairs each ``sendto`` with the ``recvfrom`` that received its datagram,
per (from port, to port) in order; one sent to a socket of the run that never received it is
*lost* (``lost(events)``), which the ladder draws as an arrow that stops short.

``stable(events)`` replaces every port number, in addresses and in text, by its order of first
appearance (1, 2, 3, ...), and every time figure (a ping's timestamp, a round trip) by a placeholder,
so two runs of one script give equal events: ``stable(a) == stable(b)``.
"""
from __future__ import annotations

from collections.abc import Iterable

from narration.events import Event, Recorded
from narration.text import PORT_NUMBER, timeless
from narration.trace import Trace


def _flow(event: Event) -> tuple | None:
    """Which direction of which connection an event belongs to, as (from, to)."""
    local, peer = getattr(event, "local", None), getattr(event, "peer", None)
    if local is None or peer is None:
        return None
    return (tuple(local), tuple(peer))


def causes(records: Iterable[Recorded]) -> dict[int, set[int]]:
    """For each event's seq, the seqs of other threads' events it must come after."""
    records = list(records)
    known = {record.seq for record in records}
    sends: dict[tuple, list[Recorded]] = {}
    ends: dict[tuple, Recorded] = {}
    stopped_reading: dict[tuple, Recorded] = {}     # shutdown(SHUT_RD or SHUT_RDWR) on this end
    connects: dict[tuple, Recorded] = {}
    for record in records:
        event, flow = record.event, _flow(record.event)
        if flow is None:
            continue
        if event.call in ("send", "sendall") and event.size:
            sends.setdefault(flow, []).append(record)
        elif event.call in ("shutdown", "close") and flow not in ends:
            ends[flow] = record
        elif event.call == "connect":
            connects[flow] = record
        if event.call == "shutdown" and event.how != "SHUT_WR" and flow not in stopped_reading:
            stopped_reading[flow] = record
    received_by = {records[receiver].seq: records[sender].seq
                   for sender, receiver in datagrams([record.event for record in records]).items()
                   if receiver is not None}
    result: dict[int, set[int]] = {}
    for record in records:
        event = record.event
        found = {seq for seq in record.after if seq in known}
        if record.seq in received_by:
            found.add(received_by[record.seq])
        flow = _flow(event)
        if flow is not None:
            back = (flow[1], flow[0])
            if event.call == "recv" and event.size:
                end = event.span[1]
                senders = [s for s in sends.get(back, ()) if s.event.span[0] < end]
                if senders:
                    found.add(senders[-1].seq)
            elif event.call in ("recv", "error"):     # b'' (or an error): the stream has ended
                own = stopped_reading.get(flow)
                if own is not None and own.seq < record.seq:
                    found.add(own.seq)               # this end shut its reading side (maybe in another thread)
                elif back in ends:
                    found.add(ends[back].seq)        # the peer closed or shut its sending side
            elif event.call == "accept" and back in connects:
                found.add(connects[back].seq)
        result[record.seq] = found
    return result


def datagrams(events: Iterable[Event]) -> dict[int, int | None]:
    """Which ``recvfrom`` received each ``sendto``'s datagram: the sendto's index -> the recvfrom's
    index, or None if none did.  ``events`` are in an order where a recvfrom follows its sendto
    (recording or canonical).  Matched per (from port, to port): the earliest datagram not yet
    received with the same bytes, else the earliest (ports, not hosts: a socket bound to 0.0.0.0
    sends from 0.0.0.0 but is received from 127.0.0.1)."""
    pairs: dict[int, int | None] = {}
    waiting: dict[tuple, list[int]] = {}     # unreceived sendtos by (from port, to port)
    events = list(events)
    for index, event in enumerate(events):
        if event.call not in ("sendto", "recvfrom") or event.local is None or event.peer is None:
            continue
        if event.call == "sendto":
            pairs[index] = None
            waiting.setdefault((event.local[1], event.peer[1]), []).append(index)
            continue
        queue = waiting.get((event.peer[1], event.local[1]))
        if queue:
            same = [sent for sent in queue if events[sent].data == event.data and events[sent].size == event.size]
            sent = (same or queue)[0]
            queue.remove(sent)
            pairs[sent] = index
    return pairs


def lost(events: Iterable[Event]) -> set[int]:
    """Indices of the datagrams sent to a socket of this run that never received them (a datagram
    to a program outside the run, netcat say, is not lost: its receipt is just not seen)."""
    events = list(events)
    ours = {event.local[1] for event in events if getattr(event, "local", None) and event.local[1]}
    return {sent for sent, receiver in datagrams(events).items()
            if receiver is None and events[sent].peer[1] in ours}


def canonical(trace: Trace) -> list[Recorded]:
    """The run's events in one stable order (see the module docstring), hidden ones included."""
    threads: dict[str, list[Recorded]] = {}
    for record in trace.events:
        threads.setdefault(record.thread, []).append(record)

    def rank(name: str) -> tuple:
        if name in trace.thread_rank:
            return trace.thread_rank[name]
        shown = [r.event.actor for r in threads[name] if not r.hidden]
        actor = shown[0] if shown else threads[name][0].event.actor
        return (trace.actor_rank.get(actor, len(trace.actor_rank)), 0)

    order = sorted(threads, key=rank)
    must_follow = causes(trace.events)
    done: set[int] = set()
    heads = {name: 0 for name in order}
    result: list[Recorded] = []
    while len(result) < len(trace.events):
        chosen = None
        for name in order:
            position = heads[name]
            if position < len(threads[name]) and must_follow[threads[name][position].seq] <= done:
                chosen = name
                break
        if chosen is None:
            # Only a wait on something outside the trace gets here; fall back to real order.
            chosen = min((name for name in order if heads[name] < len(threads[name])),
                         key=lambda name: threads[name][heads[name]].seq)
        record = threads[chosen][heads[chosen]]
        heads[chosen] += 1
        done.add(record.seq)
        result.append(record)
        while heads[chosen] < len(threads[chosen]) and threads[chosen][heads[chosen]].event.follows_its_call:
            record = threads[chosen][heads[chosen]]     # a reading of the kernel: with its call
            heads[chosen] += 1
            done.add(record.seq)
            result.append(record)
    return result


def shown(records: Iterable[Recorded]) -> list[Event]:
    """The events a view shows (milestones left out), in the given order."""
    return [record.event for record in records if not record.hidden]




def stable(events: Iterable[Event]) -> list[Event]:
    """The events with every port renumbered by first appearance, in addresses and in text, and
    time figures in text as placeholders (``narration.text.timeless``)."""
    events = list(events)
    numbers: dict[int, int] = {}

    def number(port: int) -> int:
        return numbers.setdefault(port, len(numbers) + 1)

    for event in events:
        for name in ("asked", "local", "peer"):
            address = getattr(event, name, None)
            if address and address[1]:
                number(address[1])

    def address(value):
        return (value[0], numbers.get(value[1], value[1])) if value and value[1] else value

    def text(value: str) -> str:
        return PORT_NUMBER.sub(lambda m: str(numbers.get(int(m.group()), m.group())), timeless(value))

    result = []
    for event in events:
        changes = {name: address(getattr(event, name)) for name in ("asked", "local", "peer")
                   if hasattr(event, name)}
        if hasattr(event, "text"):
            changes["text"] = text(event.text)
        if hasattr(event, "data"):
            changes["data"] = text(event.data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        result.append(event.replace(**changes))
    return result
