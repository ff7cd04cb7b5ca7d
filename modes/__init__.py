"""The demo modes.  Every public module here is one mode; adding a mode is adding a file.

The contract (``Mode`` below, checked for every module here by tests/test_contract.py): a mode
module reads in textbook order, its rules first, then

- ``SUMMARY``: one line for ``demo.py --list``;
- ``SCRIPT``: the first client's lines when nobody types them;
- ``server(me, address, ready)``: bind ``address``, listen, call ``ready.set(address)``, then serve
  until the mode's own rules end it or the run stops;
- ``client(me, address, lines)``: connect to ``address`` and send each of ``lines`` (an iterable
  that may wait: a person typing, or a scripted turn);
- optionally ``SCENE`` (and ``LIVE_SCENE`` beside a person typing): who speaks when in a
  one-process run, as data (``narration.scene.Scene``).  Without it, one client runs ``SCRIPT``;
- optionally ``TRANSPORT = "udp"`` for a datagram mode: its server binds and calls ``ready.set``
  with no listen (then ``recvfrom``, ``sendto``), its client sends with ``sendto`` and no connect,
  and the launcher tells students ``nc -u``.

``me`` is the ``Actor`` the code speaks as (``narration.run``): ``me.socket()`` returns a socket
whose every call is narrated, ``me.say(text)`` is the program's print(), ``me.note(text)`` a
teaching note.  A mode never imports the launcher; the launcher and the kit never import a mode.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Protocol, runtime_checkable

from narration import discovery

ORDER = ("echo", "number_add", "ordering", "relay", "chat", "udp_echo", "udp_ping")


@runtime_checkable
class Mode(Protocol):
    """What every mode module provides (a module is checked against it, attribute by attribute)."""

    SUMMARY: str
    SCRIPT: tuple[str, ...]
    server: Callable[..., None]     # server(me, address, ready)
    client: Callable[..., None]     # client(me, address, lines: Iterable[str])


OPTIONAL = ("SCENE", "LIVE_SCENE")   # narration.scene.Scene, when a mode has more than one client


def names() -> list[str]:
    """Names as typed on the command line, in ORDER first: module ``number_add`` is ``number-add``."""
    return discovery.names(sys.modules[__name__], ORDER)


def load(name: str) -> ModuleType:
    return discovery.load(sys.modules[__name__], name)



__all__ = ["OPTIONAL", "Mode", "load", "names"]
