"""What happened: one small frozen class per kind of event, compared with ``==`` (the h11 habit).

An event says only *what happened*: who (``actor``), which call, which bytes, which addresses.
How it was recorded (sequence number, time, thread, causal edges) is kept apart, in
``Recorded``, so two runs of the same script give equal events once their ports are made stable
(``narration.order.stable``), and a test can write ``assert events == [Connect(...), ...]``.

    Socket  SetOption  Bind  Listen  Accept  Connect      set-up calls
    Send  SendAll  Recv                                    data calls (bytes, exact size, stream span)
    SendTo  RecvFrom                                       datagrams (UDP): one whole message each, with its address
    SetTimeout  TimedOut                                   a socket's timeout, and a call that ran out of it
    TcpState                                               the kernel's TCP state after a call (--tcp)
    Shutdown  Close                                        ending calls
    Say  Note  Failure                                     what a program prints; a teaching note; an error
    Milestone                                              bookkeeping no view shows (typed: ``Step``)

Every class has ``call`` (the name a view shows: "bind", "sendall", "say", "error", ...) and
``hidden`` (True only for milestones).  Addresses are ``(host, port)`` tuples.
"""
from __future__ import annotations

from enum import Enum
from typing import Any


class Event:
    """What every event has: ``actor``, ``call``, ``hidden``; frozen, compared field by field.

    A small hand-made frozen record rather than a dataclass: a run makes the classes once at
    start-up, where every millisecond counts, and this costs a fraction of ``dataclass``'s exec.
    """

    __slots__ = ("actor",)
    own: tuple[str, ...] = ()                    # a kind's own fields, in order (its __slots__ too)
    fields: tuple[str, ...] = ("actor",)
    defaults: dict[str, Any] = {}
    call = ""
    hidden = False
    follows_its_call = False                     # drawn right after the event before it, always

    def __init_subclass__(cls) -> None:
        cls.fields = cls.fields + cls.__dict__.get("own", ())     # in this order, whatever sorts __slots__
        cls.defaults = {**cls.__mro__[1].defaults, **cls.__dict__.get("defaults", {})}

    def __init__(self, *args, **named) -> None:
        if len(args) > len(self.fields):
            raise TypeError(f"{type(self).__name__} takes at most {len(self.fields)} values")
        values = dict(zip(self.fields, args))
        for name, value in named.items():
            if name not in self.fields or name in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {name!r}")
            values[name] = value
        for name in self.fields:
            if name not in values and name not in self.defaults:
                raise TypeError(f"{type(self).__name__} needs {name!r}")
            object.__setattr__(self, name, values.get(name, self.defaults.get(name)))

    def values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.fields)

    def replace(self, **changes) -> Event:
        """A copy with some fields changed (the event itself never changes)."""
        return type(self)(**{**dict(zip(self.fields, self.values())), **changes})

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is frozen: events never change")

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.values() == other.values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in zip(self.fields, self.values()))})"


# -- set-up ---------------------------------------------------------------------------------------
class Socket(Event):
    own = ("family", "kind")  # "AF_INET" or "AF_INET6"; "SOCK_STREAM" or "SOCK_DGRAM"
    __slots__ = own
    defaults = {"family": "AF_INET", "kind": "SOCK_STREAM"}
    call = "socket"


class SetOption(Event):
    own = ("option", "value", "local", "peer")  # "SO_REUSEADDR", "TCP_NODELAY", or the number
    __slots__ = own
    defaults = {"value": 1, "local": None, "peer": None}
    call = "setsockopt"


class Bind(Event):
    own = ("asked", "local")  # what the program asked for (port 0: any); what it got
    __slots__ = own
    call = "bind"


class Listen(Event):
    own = ("backlog", "local")
    __slots__ = own
    call = "listen"


class Accept(Event):
    own = ("local", "peer")  # the new connection's two ends
    __slots__ = own
    call = "accept"


class Connect(Event):
    own = ("local", "peer")  # this end, with the ephemeral port the OS picked
    __slots__ = own
    call = "connect"


# -- data -----------------------------------------------------------------------------------------
class Data(Event):
    own = ("data", "size", "span", "local", "peer", "count")
    __slots__ = own
    # data: the payload (at most PAYLOAD_KEPT bytes of it); size: the exact byte count;
    # span: where these bytes sit in this direction of the stream, (start, end);
    # count: how many calls this event stands for (a folded run of them: "sendall ×1,000")
    defaults = {"local": None, "peer": None, "count": 1}


class Send(Data):
    __slots__ = ()
    call = "send"


class SendAll(Data):
    __slots__ = ()
    call = "sendall"


class Recv(Data):
    __slots__ = ()
    call = "recv"                                  # size 0: b'', the end of the stream


class Datagram(Event):
    own = ("data", "size", "local", "peer")
    __slots__ = own
    # One whole UDP datagram: no span, since datagrams are not a stream (one sendto is one
    # recvfrom, never merged or split).  data: the payload (at most PAYLOAD_KEPT bytes of it);
    # size: the exact byte count (0 is a real, empty datagram); local: this end;
    # peer: where it went (sendto) or where it came from (recvfrom).


class SendTo(Datagram):
    __slots__ = ()
    call = "sendto"


class RecvFrom(Datagram):
    __slots__ = ()
    call = "recvfrom"


class SetTimeout(Event):
    own = ("seconds", "local")  # None: block for ever; 0.0: non-blocking
    __slots__ = own
    defaults = {"local": None}
    call = "settimeout"


class TimedOut(Event):
    own = ("waited", "seconds", "local")  # the call that gave up ("recvfrom"), after its timeout
    __slots__ = own
    defaults = {"local": None}
    call = "timeout"


# -- ending ---------------------------------------------------------------------------------------
class Shutdown(Event):
    own = ("how", "local", "peer", "listening")
    __slots__ = own
    defaults = {"how": "SHUT_RDWR", "local": None, "peer": None, "listening": False}
    call = "shutdown"


class Close(Event):
    own = ("local", "peer", "listening")
    __slots__ = own
    defaults = {"local": None, "peer": None, "listening": False}
    call = "close"


# -- below the calls (--tcp) ---------------------------------------------------------------------
class TcpState(Event):
    """What the kernel said about a connection after a call on it, once the run had settled: this
    end's TCP state and queues, and the other end's when that is a socket of the run.

    state: as the textbook writes it ("ESTABLISHED", "CLOSE_WAIT", "TIME_WAIT"), or None: the
    kernel no longer knows the connection; unread: bytes received that the program has not read;
    unsent: bytes the kernel has not sent yet (None: not readable here).  It is drawn right after
    its call (``follows_its_call``), whatever else happened meanwhile.
    """

    own = ("local", "peer", "state", "unread", "unsent", "peer_actor", "peer_state", "peer_unread",
           "peer_unsent")
    __slots__ = own
    defaults = {"unread": None, "unsent": None, "peer_actor": None, "peer_state": None,
                "peer_unread": None, "peer_unsent": None}
    call = "tcp"
    follows_its_call = True


# -- words ----------------------------------------------------------------------------------------
class Say(Event):
    own = ("text",)  # what the program prints for its user
    __slots__ = own
    call = "say"


class Note(Event):
    own = ("text",)  # a short teaching note: why this happens
    __slots__ = own
    call = "note"


class Failure(Event):
    own = ("text", "reset", "local", "peer")  # one readable line; reset: the peer sent RST
    __slots__ = own
    defaults = {"reset": False, "local": None, "peer": None}
    call = "error"


# -- bookkeeping ----------------------------------------------------------------------------------
class Step(Enum):
    """The kinds of milestone: how threads took turns, never shown."""

    READY = "the server is listening"
    SERVER_READY = "a client saw the server ready"
    THREAD_STARTED = "started a thread"
    THREAD_BEGINS = "a thread begins"
    THREAD_ENDS = "a thread ends"
    JOINED = "joined a thread"
    PUT = "put an item in a mailbox"
    GOT = "got an item from a mailbox"
    SETTLED = "everything the last turn caused has happened"
    TURN = "a part takes its turn"
    WOKEN = "a waiting call was ended by the run stopping"


class Milestone(Event):
    own = ("step",)
    __slots__ = own
    call = "sync"
    hidden = True


class Recorded:
    """How an event was recorded: the order it came in, when, on which thread, after what."""

    __slots__ = ("after", "event", "seq", "thread", "time")

    def __init__(self, seq: int, event: Event, thread: str, time: float = 0.0, after: tuple = ()) -> None:
        self.seq = seq              # recording order (real time, across all threads)
        self.event = event
        self.thread = thread        # program-order key: events of one thread never reorder
        self.time = time            # seconds since the run started (never in screenshots)
        self.after = after          # seqs of events this one waited for (causal edges)

    @property
    def hidden(self) -> bool:
        return self.event.hidden

    def __repr__(self) -> str:
        return f"Recorded({self.seq}, {self.event!r}, thread={self.thread!r})"
