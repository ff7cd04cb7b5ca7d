"""Lines a person types, read by a thread of their own: the same code path on every OS.

No ``select()`` on stdin (Windows takes sockets only) and no blocking read in the main thread:
a reader thread reads one line each time one is asked for, and whoever asks waits in short
steps, so Ctrl-C lands at once on Linux, macOS and Windows alike.

- On a terminal, prompt_toolkit reads the line, keeping it intact while narration arrives from
  other threads (``patch_stdout`` moves that output above the prompt).  Ctrl-C there is a key,
  not a signal: the reader hands it to the main thread.
- Otherwise (a pipe, a redirect, an IDE's run window) the reader takes raw bytes from the file
  descriptor with ``os.read``, which holds no Python lock a daemon thread could keep at exit.

``TypedLines`` is an iterator of lines (Ctrl-D or the end of input ends it); ``arrived`` counts
what the reader has handed over so far, so a scene can tell a person still typing from a line
on its way.
"""
from __future__ import annotations

import os
import queue
import sys
import threading

_END = object()
_INTERRUPT = object()


class TypedLines:
    def __init__(self, prompt: str = "", *, stopping: threading.Event | None = None) -> None:
        self.prompt = prompt
        self._stopping = stopping          # the run's: a thread waiting for a line gives up when set
        self._asks: queue.Queue = queue.Queue()
        self._lines: queue.Queue = queue.Queue()
        self._over = False
        self.arrived = 0                   # lines (and the end) the reader has handed over so far
        self._reader = threading.Thread(target=self._read, name="keyboard", daemon=True)
        self._reader.start()

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self._over:
            raise StopIteration
        self._asks.put(True)
        while True:
            try:
                line = self._lines.get(timeout=0.05)  # short steps: Ctrl-C reaches a waiting main thread
            except queue.Empty:
                if self._stopping is not None and self._stopping.is_set():
                    from narration.errors import Stopped
                    raise Stopped from None       # Ctrl-C or the end of the run: stop waiting for a line
                continue
            if line is _END:
                self._over = True
                raise StopIteration
            if line is _INTERRUPT:               # the main thread has its KeyboardInterrupt already
                self._over = True
                if threading.current_thread() is threading.main_thread():
                    raise KeyboardInterrupt
                from narration.errors import Stopped
                raise Stopped
            return line

    # -- the reader thread -------------------------------------------------------------------
    def _read(self) -> None:
        import signal

        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})   # Ctrl-C belongs to the main thread
        terminal = sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()
        ask = self._prompted() if terminal else self._piped()
        while True:
            self._asks.get()
            try:
                line = next(ask)
            except StopIteration:
                self.arrived += 1
                self._lines.put(_END)
                return
            except KeyboardInterrupt:
                import _thread
                self.arrived += 1
                self._lines.put(_INTERRUPT)
                _thread.interrupt_main()          # prompt_toolkit read Ctrl-C as a key: pass it on
                return
            self.arrived += 1
            self._lines.put(line)

    def _prompted(self):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.patch_stdout import patch_stdout

        session = PromptSession()
        while True:
            with patch_stdout(raw=True):
                try:
                    line = session.prompt(self.prompt)
                except EOFError:
                    return
            yield line

    def _piped(self):
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):   # no standard input at all (a GUI launcher)
            fd = None
        pending = b""
        while fd is not None:
            if self.prompt:
                sys.stdout.write(self.prompt)
                sys.stdout.flush()
            while b"\n" not in pending:
                chunk = os.read(fd, 4096)
                if not chunk:
                    if pending:
                        yield pending.decode("utf-8", "replace").removesuffix("\r")
                    return
                pending += chunk
            line, pending = pending.split(b"\n", 1)
            yield line.decode("utf-8", "replace").removesuffix("\r")
