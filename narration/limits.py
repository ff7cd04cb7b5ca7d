"""Limits a server meets, and how the kit waits: open files, a spare descriptor, short steps.

    STEP                    how often a blocking accept() or select() looks whether to stop
    readable(sock, t)       poll() (no select() limit at fd 1024), or select() where poll is missing
    SPARE                   one descriptor held back, to refuse politely when they run out
    raise_open_file_limit() the soft limit on open files up to the hard one (once per process)

A server's sockets change two things for the whole process, once: ``listen()`` raises the soft
limit on open files to the hard one, and keeps one descriptor spare.
"""
from __future__ import annotations

import contextlib
import errno
import os
import select
import threading

STEP = 0.2                 # seconds: how often a blocking accept() or select() looks whether to stop
TOO_MANY = b"error: the server has too many connections right now; try again in a minute\n"
OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, getattr(errno, "WSAEMFILE", errno.EMFILE), errno.ENOBUFS}


def readable(sock, timeout: float) -> bool:
    """Whether ``sock`` has something to read (or a connection to accept) within ``timeout``.

    poll() where the OS has it: select() cannot watch a descriptor numbered 1024 or more.
    Windows has no poll(), and its select() takes sockets, whatever their number.
    """
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    return bool(select.select([sock], [], [], timeout)[0])


def writable(sock, timeout: float = 0.0) -> bool:
    """Whether the kernel has room for ``sock``'s next bytes within ``timeout`` (poll where the OS
    has it, as for ``readable``).  Not writable now: a ``sendall`` would wait."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        return bool(poller.poll(timeout * 1000))
    return bool(select.select([], [sock], [], timeout)[1])


class _Spare:
    """One file descriptor held in reserve, so that a server out of them can still accept a
    connection to tell it so (the classic trick: close the spare, accept, reply, close, reopen)."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self._lock = threading.Lock()

    def keep(self) -> None:
        with self._lock:
            if self._fd is None:
                with contextlib.suppress(OSError):
                    self._fd = os.open(os.devnull, os.O_RDONLY)

    def release(self) -> bool:
        with self._lock:
            if self._fd is None:
                return False
            os.close(self._fd)
            self._fd = None
            return True


SPARE = _Spare()
_raised = False


def raise_open_file_limit() -> None:
    """Let this process open as many files (sockets) as the OS allows it: the soft limit up to the
    hard one (often 1024 and far more).  Windows has no such limit to raise."""
    global _raised
    if _raised:
        return
    _raised = True
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in (hard, 1 << 20, 10240):      # macOS refuses "unlimited": OPEN_MAX is 10240
        if wanted == resource.RLIM_INFINITY or (soft != resource.RLIM_INFINITY and wanted <= soft):
            continue
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            return
        except (ValueError, OSError):
            continue
