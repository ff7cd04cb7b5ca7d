"""Plug-ins by file: every public module of a package is one (a mode, a lesson); adding one is adding a file.

    names(package, order)   command-line names, in ``order`` first: module ``sleep_race`` is ``sleep-race``
    load(package, name)     the module for a command-line name
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def names(package: ModuleType, order: tuple[str, ...] = ()) -> list[str]:
    found = [info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_")]
    found.sort(key=lambda name: (order.index(name) if name in order else len(order), name))
    return [name.replace("_", "-") for name in found]


def load(package: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.{name.replace('-', '_')}")
