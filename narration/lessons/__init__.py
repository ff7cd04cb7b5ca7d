"""The lessons: each file is one classic mistake, run for real and failing, then the fix.

Every public module here is a lesson, read top to bottom like the modes; adding a lesson is
adding a file.  A lesson module provides ``SUMMARY`` (one line for ``--help`` and ``--list``)
and ``play(run)``: it drives real sockets through narrated actors (``run.actor("server")``),
first the naive way, then the right way.  Where the naive way only fails *sometimes* in real
life, an in-process signal makes it fail every run, and a note says so.  A lesson needs no
mode: ``python demo.py --lesson stream``.

``names()`` and ``load(name)`` find them (``sleep_race.py`` is the lesson ``sleep-race``).
"""
from __future__ import annotations

import sys
from types import ModuleType

from narration import discovery

ORDER = ("stream", "datagrams", "sleep_race", "backlog", "half_close", "reset", "time_wait", "reuseaddr",
         "nagle", "deadlock", "pickle")


def names() -> list[str]:
    """Names as typed on the command line, in ORDER first: module ``sleep_race`` is ``sleep-race``."""
    return discovery.names(sys.modules[__name__], ORDER)


def load(name: str) -> ModuleType:
    return discovery.load(sys.modules[__name__], name)
