"""Pitfall demonstrations (--pitfall NAME): a classic mistake run for real, failing, then the fix.

Each pitfall is a ``play(run, mode, lines)`` that drives real sockets through narrated actors,
like a mode's own ``play``; notes say what went wrong and why.  Determinism comes from the same
in-process signals the modes use (``wait_for``, ``Ready``), never from timing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Pitfall:
    summary: str
    modes: tuple[str, ...]
    play: Callable


def _lazy(name: str) -> Callable:
    def play(run, mode, lines) -> None:
        from modes import _pitfall_runs
        getattr(_pitfall_runs, name)(run, mode, lines)
    return play


PITFALLS = {
    "stream": Pitfall("TCP is a byte stream: sends merge and split", ("echo", "number-add"), _lazy("stream")),
    "sleep-race": Pitfall("a client that does not wait for listen() is refused", ("echo", "number-add"),
                          _lazy("sleep_race")),
    "reuseaddr": Pitfall("restarting a server on its port without SO_REUSEADDR", ("echo", "number-add"),
                         _lazy("reuseaddr")),
    "pickle": Pitfall("why never unpickle network data (harmless demonstration)", ("echo", "chat"),
                      _lazy("pickle")),
}
