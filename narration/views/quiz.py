"""The quiz (``--quiz``): before a call whose outcome a class can predict, stop and ask.

Peer instruction with real sockets: before each ``accept``, ``connect``, ``recv`` and
``recvfrom`` the replay stops and asks what will happen next (return at once, block, return
``b''``, time out), then shows the real call and says which answer was right.  The questions come
from the run's own events, never from a fixed list: ``questions(records)`` reads, for each such
call, what really happened.  It is a pure function of the run's records in canonical order (the
events, and the thread each was recorded on):

- a ``recv`` *blocked* when the bytes it returned were sent after the previous event of its
  thread (the call had begun, and waited for them); it returned ``b''`` when its size is 0;
- an ``accept`` blocked when the ``connect`` it answered came after the previous event of its
  thread (in a one-thread lesson, a connect before accept: it returns at once);
- a ``recvfrom`` that gave up is the ``timeout`` event right after it;
- a ``connect`` returns as soon as the kernel has completed the handshake, before ``accept``.

A call whose cause is outside the run (netcat's bytes) is not asked about: its answer is unknown.
"""
from __future__ import annotations

from typing import NamedTuple

LETTERS = "abc"
CHOICES = {
    "recv": ("it returns at once, with bytes already waiting",
             "it blocks (waits) until the peer sends",
             "it returns b'': the peer has closed its side"),
    "accept": ("it returns at once: a client has already connected",
               "it blocks (waits) until a client connects",
               "it fails: nobody has called connect()"),
    "connect": ("it blocks until the server calls accept()",
                "it returns once the kernel has completed the handshake, even before accept()",
                "it fails: the server must call accept() first"),
    "sendall": ("it returns at once: the kernel takes the bytes",
                "it blocks (waits) until the peer reads and makes room",
                "it fails: the peer's buffer is full"),
    "recvfrom": ("it returns a whole datagram that is already waiting",
                 "it blocks (waits) until a datagram arrives",
                 "it gives up: its timeout runs out first"),
}


class Question(NamedTuple):
    """One question: asked before the visible event at ``step`` (0-based)."""

    step: int
    asks: str                       # "server calls recv(): what happens next?"
    choices: tuple[str, str, str]
    answer: int                     # the index of what really happened
    happened: str                   # the real outcome, in a few words


def _flow(event) -> tuple | None:
    local, peer = getattr(event, "local", None), getattr(event, "peer", None)
    return None if local is None or peer is None else (tuple(local), tuple(peer))


def questions(records: list) -> dict[int, Question]:
    """The questions for a finished run (its ``Recorded`` in canonical order), by index among the
    visible events: the row a view draws each one on."""
    visible = [record for record in records if not record.hidden]
    events = [record.event for record in visible]
    previous: dict[str, int] = {}           # each thread's visible event before this one
    found: dict[int, Question] = {}
    for index, record in enumerate(visible):
        question = _ask(events, index, record.event, previous.get(record.thread, -1))
        if question is not None:
            found[index] = question
        previous[record.thread] = index
    return found


def _ask(events: list, index: int, event, before: int) -> Question | None:
    who, call = event.actor, event.call
    if call == "recv":
        choices = CHOICES["recv"]
        if event.size == 0:
            return Question(index, f"{who} calls recv(): what happens next?", choices, 2, "returned b''")
        sent = _sender(events, index, event)
        if sent is None:
            return None                             # sent from outside the run: unknown
        waited = sent > before
        return Question(index, f"{who} calls recv(): what happens next?", choices, 1 if waited else 0,
                        f"{'waited, then ' if waited else ''}returned {event.size} B")
    if call == "recvfrom" or (call == "timeout" and event.waited == "recvfrom"):
        return _recvfrom(events, index, event, before)      # a recvfrom that gave up shows as "timeout"
    if call == "accept":
        choices = CHOICES["accept"]
        connected = next((i for i in range(index) if events[i].call == "connect"
                          and _flow(events[i]) == (tuple(event.peer), tuple(event.local))), None)
        if connected is None:
            return None                             # a client from outside the run: unknown
        waited = connected > before
        return Question(index, f"{who} calls accept(): what happens next?", choices, 1 if waited else 0,
                        "waited for a client" if waited else "returned at once")
    if call == "connect":
        choices = CHOICES["connect"]
        return Question(index, f"{who} calls connect(): what happens next?", choices, 1,
                        "returned before any accept()")
    return None


def _recvfrom(events: list, index: int, event, before: int) -> Question | None:
    choices = CHOICES["recvfrom"]
    asks = f"{event.actor} calls recvfrom(): what happens next?"
    if event.call == "timeout":
        return Question(index, asks, choices, 2, "timed out")
    from narration.order import datagrams

    sent = next((sender for sender, receiver in datagrams(events[:index + 1]).items() if receiver == index), None)
    if sent is None:
        return None
    waited = sent > before
    return Question(index, asks, choices, 1 if waited else 0,
                    f"{'waited, then ' if waited else ''}returned {event.size} B")


def _sender(events: list, index: int, event) -> int | None:
    """The index of the send that carried the first byte a recv returned: a recv returns as soon
    as its first byte is there, so that send says whether it had to wait."""
    back = (tuple(event.peer), tuple(event.local)) if event.peer and event.local else None
    start = event.span[0] if getattr(event, "span", None) else None
    if back is None or start is None:
        return None
    return next((i for i in range(index) if events[i].call in ("send", "sendall") and _flow(events[i]) == back
                 and events[i].span is not None and events[i].span[0] <= start < events[i].span[1]), None)


def answered(typed: str | None) -> int | None:
    """A typed answer as a choice index: a, b, c or 1, 2, 3 (anything else: no answer)."""
    text = (typed or "").strip().lower()
    if len(text) == 1 and text in LETTERS:
        return LETTERS.index(text)
    if text in ("1", "2", "3"):
        return int(text) - 1
    return None


class LiveQuiz:
    """The quiz in a split role (``--role client --quiz``), for the person at that end: before
    each of their own accept, connect, recv and recvfrom, and a sendall that will wait (no room in
    the kernel now), ask; after it, say what happened.

    The narrated socket asks (``ask``) before the real call, having looked whether it can return
    at once, and tells the outcome (``tell``) after it.  Answers are the next typed lines, the same
    lines the role reads (so a person types an answer, then their next message).
    """

    def __init__(self, console, answers) -> None:
        self.console = console
        self.answers = answers
        self.asked = self.right = 0
        self.choice: int | None = None
        self.thread = None          # the role's own thread: the one the person's typing goes to

    def asks_here(self, sock) -> bool:
        """Whether to ask about a call on ``sock`` now: a blocking (or timed) call, on the role's
        own thread (the first that asks): a reader thread of the same program would take the
        person's answers from the lines they type as messages."""
        import threading

        if sock.gettimeout() == 0.0:
            return False             # non-blocking: it never waits, so there is nothing to predict
        if self.thread is None:
            self.thread = threading.current_thread()
        return threading.current_thread() is self.thread

    def failed(self, call: str, error: BaseException) -> None:
        """The call raised: the question is withdrawn, and the error said."""
        from rich.text import Text

        self.asked -= 1
        self.console.print(Text(f"→ {call}() failed ({type(error).__name__}): not counted", style="quiz.wrong"))

    def ask(self, actor: str, call: str) -> None:
        from rich.text import Text

        self.asked += 1
        self.console.print(Text(f"? {actor} calls {call}(): what happens next? (type a, b or c)", style="quiz.ask"))
        for letter, choice in zip(LETTERS, CHOICES[call]):
            self.console.print(Text(f"   {letter}) {choice}", style="quiz.choice"))
        self.choice = answered(next(self.answers, None))

    def tell(self, call: str, answer: int, happened: str) -> None:
        from rich.text import Text

        truth = f"{LETTERS[answer]}) {CHOICES[call][answer]}: {happened}"
        if self.choice == answer:
            self.right += 1
            self.console.print(Text(f"✓ right: {truth}", style="quiz.right"))
        else:
            self.console.print(Text(f"{'✗' if self.choice is not None else '→'} it was {truth}", style="quiz.wrong"))

    def score(self) -> str:
        return f"quiz: {self.right} of {self.asked} right"
