"""The demo modes.  Every public module here is one mode; adding a mode is adding a file.

A mode module provides:

- ``SUMMARY``: one line for ``demo.py --list``;
- ``SCRIPT``: the first client's lines when nobody types them;
- ``server(me, address, ready)``: bind ``address``, listen, call ``ready.set(address)``, then serve
  until the mode's own rules end it or the run stops;
- ``client(me, address, lines)``: connect to ``address`` and send each of ``lines``;
- optionally ``play(run, address, lines)``: start and coordinate the clients of a one-process run
  (for modes with more than one client).  Without it, one client runs ``lines``.

``me`` is the ``Actor`` the code speaks as (``modes._narrate``); its ``socket()`` returns a socket
whose every call is narrated.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def names() -> list[str]:
    """Mode names as typed on the command line: module ``number_add`` is mode ``number-add``."""
    found = [info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]
    order = ["echo", "number_add", "ordering", "relay", "chat"]
    found.sort(key=lambda name: (order.index(name) if name in order else len(order), name))
    return [name.replace("_", "-") for name in found]


def load(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
