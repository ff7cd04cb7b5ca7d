"""The errors a narrated run raises, and one readable line for each network error a student meets."""
from __future__ import annotations

import errno
import socket


class Stopped(Exception):
    """The run is stopping: a blocked call was woken by shutting its socket down."""


class ScreenshotError(Exception):
    """The screenshot could not be written; str(error) is the one line to show."""


class PeerClosed(ConnectionError):
    """The other end closed the connection while this end still expected a reply."""


def describe_network_error(error: BaseException) -> str:
    """One readable line for the network errors a student will meet."""
    if isinstance(error, PeerClosed):
        return str(error)
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: nothing is listening there"
    if isinstance(error, ConnectionResetError):
        return "connection reset by peer (it closed abruptly)"
    if isinstance(error, BrokenPipeError):
        return "broken pipe: the peer closed the connection"
    if isinstance(error, ConnectionAbortedError):
        return "connection aborted"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return "host unknown: the name does not resolve"
    if isinstance(error, OSError) and error.errno is not None:
        if error.errno == errno.EADDRINUSE:
            return "address already in use"
        if error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "host unreachable"
        if error.errno == errno.EADDRNOTAVAIL:
            return "address not available on this machine"
        return error.strerror or str(error)
    return str(error)
