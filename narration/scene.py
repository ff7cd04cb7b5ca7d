"""Who speaks when in a one-process run: a scene is data, and ``perform`` plays it.

A mode's module may declare a ``SCENE``: its scripted clients (``parts``, each with its lines)
and the order of their turns.  Without one, a mode's one client runs its lines straight through.

    SCENE = Scene(parts={"client X": ("I connected first",), "client Y": ("I sent first",)},
                  turns=(Joins("client X"), Joins("client Y"), Types("client Y"), Types("client X")))

- ``Joins(part)`` starts the part's client (``mode.client(me, address, lines)``) in a thread;
- ``Types(part)`` lets that client take its next line;
- ``Leaves(part)`` ends its lines (its client then closes, as after Ctrl-D).

After each turn the run waits until it is quiet (``Run.wait_until_quiet``): everything the turn
caused has happened, seen from the sockets, never from what anyone printed.  So the next turn
never races the last one, and the same scene always renders the same way.  Lines a part has left
when the turns are over go out at the end, part by part; a part named in no turn runs freely
(a person typing beside scripted parts).  The first part's lines are the ones ``--send`` and
``--interactive`` replace.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from narration.errors import Stopped
from narration.events import Milestone, Step

SETTLE = 5.0                 # seconds a scripted turn may take to settle
PATIENCE = 24 * 60 * 60.0    # seconds a turn waits for a person's typing


class Turn:
    """One turn of a scene, for one part (compared by kind and part)."""

    __slots__ = ("part",)

    def __init__(self, part: str) -> None:
        self.part = part

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.part == other.part

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.part))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.part!r})"


class Joins(Turn):
    """The part's client starts: it connects."""


class Types(Turn):
    """The part's client may take its next line."""


class Leaves(Turn):
    """The part's lines are over: its client ends them, as after Ctrl-D."""


class Scene:
    """A scripted one-process run as data: the parts (name -> lines, the first part first), their
    turns, and the pace between turns for a person reading along (a live scene)."""

    def __init__(self, parts: dict, turns: tuple = (), pace: float = 0.0) -> None:
        self.parts = dict(parts)
        self.turns = tuple(turns)
        self.pace = pace

    @property
    def first(self) -> str:
        return next(iter(self.parts))

    def __repr__(self) -> str:
        return f"Scene(parts={self.parts!r}, turns={self.turns!r}, pace={self.pace!r})"


class Cue:
    """A part's lines as its client sees them: each one waits for its turn (when the part has turns)."""

    def __init__(self, run, name: str, lines: Iterable[str], *, gated: bool) -> None:
        self.run = run
        self.name = name
        self.source = lines
        self.lines = iter(lines)
        self.gated = gated
        self.released = 0
        self.taken = 0
        self.free = False          # the turns are over: the rest of the lines go straight out
        self.ended = False         # Leaves: no more lines
        self.after: tuple = ()
        self.turn = threading.Condition(run.trace.lock)   # woken by this part's turns only
        self.typed_taken = 0       # a person's lines taken so far (see TypedLines.arrived)

    def release(self, after: tuple) -> None:
        """One more line may go (a Types turn)."""
        self._change(after, released=self.released + 1)

    def release_all(self, after: tuple) -> None:
        """The turns are over: the rest of the lines go straight out."""
        self._change(after, free=True)

    def end(self, after: tuple) -> None:
        """A Leaves turn: no more lines."""
        self._change(after, ended=True)

    def _change(self, after: tuple, **state) -> None:
        with self.turn:
            for name, value in state.items():
                setattr(self, name, value)
            self.after = after
            self.turn.notify_all()

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.gated and not self.free:
            self._wait_for_turn()
            self.run.trace.record(Milestone(self.name, Step.TURN), after=self.after)
        if self.ended:
            raise StopIteration
        if hasattr(self.source, "arrived") and not (self.gated and not self.free):
            return self._next_typed()
        return next(self.lines)

    def _next_typed(self) -> str:
        """A person's next line, typed when they like: waiting for it is quiet, until it arrives."""
        run = self.run
        with run.waiting(lambda: self.source.arrived > self.typed_taken):
            try:
                return next(self.lines)
            finally:
                with run.trace.changed:             # taken and awake in one step
                    self.typed_taken += 1
                    run.stop_waiting()

    def _wait_for_turn(self) -> None:
        run = self.run
        with run.waiting(lambda: self.released > self.taken or self.free or self.ended), self.turn:
            while not (self.released > self.taken or self.free or self.ended):
                if run.stopping.is_set():
                    raise Stopped
                self.turn.wait(0.1)                  # short steps: a stopping run is seen at once
            if self.released > self.taken:
                self.taken += 1
            run.stop_waiting()               # awake, and its turn taken, in one step


def perform(run, scene: Scene, client: Callable, address, lines=None, *, person: str | None = None,
            settle: float = SETTLE) -> None:
    """Play ``scene`` against the server at ``address``; ``lines`` replace the first part's.

    ``person`` names the part a person types for (its turns wait as long as they take).
    Runs in the calling thread and waits only in short steps, so Ctrl-C reaches it on every OS.
    """
    sources = dict(scene.parts)
    if lines is not None:
        sources[scene.first] = lines
    gated = {turn.part for turn in scene.turns}
    cues = {name: Cue(run, name, source or (), gated=name in gated) for name, source in sources.items()}
    actors = {name: run.actor(name) for name in sources}
    threads: dict[str, threading.Thread] = {}
    person_left = threading.Event()

    def join(name: str) -> None:
        def part() -> None:
            try:
                client(actors[name], address, cues[name])
            finally:
                if name == person:
                    person_left.set()
        threads[name] = run.start(actors[name], part, critical=True)

    for name in sources:
        if name not in gated:
            join(name)                       # a free part: the one client, or a person beside a scene
    waited_on = None                         # the part whose turn went last: a person takes their time
    for turn in scene.turns:
        after = (run.wait_until_quiet(PATIENCE if waited_on == person else settle).seq,)
        waited_on = turn.part
        if isinstance(turn, Joins):
            join(turn.part)
        elif isinstance(turn, Types):
            cues[turn.part].release(after)
        else:
            cues[turn.part].end(after)
        if scene.pace:
            person_left.wait(scene.pace)     # pacing: a person reads along (sooner once they left)
    after = run.wait_until_quiet(PATIENCE if waited_on == person else settle)
    for name in sources:                     # lines the turns did not reach, part by part
        if name in threads and run.running(threads[name]):
            cues[name].release_all((after.seq,))
            after = run.wait_until_quiet(PATIENCE if name == person else settle)
    for name, thread in threads.items():
        wait_for_end(run, thread, PATIENCE if name == person else settle * 6)
        run.join(thread, actors[name], timeout=0)
    run.wait_until_quiet(settle)


def wait_for_end(run, thread: threading.Thread, timeout: float) -> None:
    """Wait for the run's ``thread`` to finish, in short steps (Ctrl-C lands at once on every OS)."""
    if not run.wait_for_thread(thread, timeout):
        raise TimeoutError(f"{thread.name} did not finish its script")
