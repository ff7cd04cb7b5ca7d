"""A student's own programs, narrated: their server and client, every socket call, every view.

    python demo.py --run server.py --run "client.py localhost 12000" --send hello

Each ``--run`` is one program with its arguments (split as a shell would); the ``--send`` lines
after it are typed into that program's stdin, then its input ends.  Programs start in the given
order, each in its own process; the next starts once the last has listened (a server), connected
(a client) or exited.  Servers still running once every client has exited are stopped as Ctrl-C
would stop them.  Their calls become the kit's events, so the log, the ladder, --wire, --explain,
--step, --pace and screenshots draw them as they draw a mode's run.

    child      the bootstrap each program runs under (standard library only)
    records    reports -> events (pure), and the fold of long runs of one call
    runner     processes, the order they start in, stopping servers

``programs_of(script)`` turns the command line's ``--run``/``--send`` items into ``Program``s;
``problem(...)`` says what is wrong with them in one line (a missing file, a Python 2 program);
``play(run, programs, cwd=...)`` runs them; ``title(...)`` is a screenshot's title, and
``without_pids(events, programs)`` its events with each program's process id as ``PID``.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from narration.programs.runner import Program, play

__all__ = ["Program", "play", "problem", "programs_of", "title", "without_pids"]

# What a Python 2 program says first when Python 3 compiles it.
_PYTHON2_SYNTAX = {"Missing parentheses in call to 'print'": "print without parentheses",
                  "Missing parentheses in call to 'exec'": "exec without parentheses",
                  "multiple exception types must be parenthesized": "except X, name:"}
_PYTHON2_NAMES = re.compile(r"^[^#\n]*\b(raw_input|xrange)\s*\(", re.MULTILINE)


def programs_of(script: list[tuple[str, str]]) -> list[Program]:
    """``[("run", "client.py localhost 12000"), ("send", "hello"), ...]`` as programs: each --send
    line belongs to the --run before it.  Actors are named after their files; two runs of one file
    are told apart (client-1, client-2)."""
    commands: list[tuple[list[str], list[str]]] = []
    for kind, text in script:
        if kind == "run":
            commands.append((shlex.split(text), []))
        elif commands:
            commands[-1][1].append(text)
    stems = [Path(argv[0]).stem if argv else "program" for argv, _ in commands]
    names = []
    for index, stem in enumerate(stems):
        same = [i for i, other in enumerate(stems) if other == stem]
        names.append(stem if len(same) == 1 else f"{stem}-{same.index(index) + 1}")
    return [Program(name, argv, lines) for name, (argv, lines) in zip(names, commands)]


def problem(script: list[tuple[str, str]], *, cwd=None) -> str | None:
    """What is wrong with these programs, in one line, or None: no program, a --send before any
    --run, an empty --run, a file that is not there, a Python 2 program."""
    if not script or script[0][0] != "run":
        return "--send after --run PROGRAM types a line into that program; give the --run first"
    base = Path(cwd) if cwd is not None else Path.cwd()
    for kind, text in script:
        if kind != "run":
            continue
        try:
            argv = shlex.split(text)
        except ValueError as error:
            return f"--run {text!r}: {error}"
        if not argv:
            return "--run needs a program: --run server.py, or --run \"client.py localhost 12000\""
        path = base / argv[0]
        if not path.is_file():
            return f"--run {argv[0]}: no such file (from {base})"
        try:
            python2 = python2_line(path)
        except OSError as error:
            return f"--run {argv[0]}: cannot read it ({error.strerror or error})"
        if python2:
            return f"--run {argv[0]}: {python2}"
    return None


def python2_line(path: Path) -> str | None:
    """One line if ``path`` is a Python 2 program, else None (other syntax errors are the
    program's own: it runs, and shows its own traceback)."""
    source = path.read_bytes()
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as error:
        said = next((what for text, what in _PYTHON2_SYNTAX.items() if error.msg.startswith(text)), None)
        if said:
            return (f"this is a Python 2 program (line {error.lineno}: {said}); this tool runs Python 3: "
                    "write print(\"...\") and except X as name:")
        return None
    except ValueError:
        return None
    found = _PYTHON2_NAMES.search(source.decode("utf-8", "replace"))
    if found:
        line = source[:found.start(1)].count(b"\n") + 1
        return (f"this is a Python 2 program (line {line}: {found.group(1)}() is Python 2 only); this tool "
                "runs Python 3: input() for raw_input(), range() for xrange()")
    return None


def title(words: list[str], events) -> str:
    """A screenshot's title: the command that draws it again, with the ports the run's servers
    listened on as PORT (a test, or a teacher, may pick any free port: the image stays the same)."""
    ports = {str(event.local[1]) for event in events
             if event.call in ("listen", "bind") and event.local and event.local[1]}

    def without_ports(word: str) -> str:
        return " ".join("PORT" if part in ports else part for part in word.split(" "))

    return shlex.join(without_ports(word) for word in words)


def without_pids(events, programs: list[Program]) -> list:
    """The events with each program's process id, in what it printed, as ``PID`` (different every
    run, like ports and times): for screenshots."""
    pids = [str(program.process.pid) for program in programs if program.process is not None]
    if not pids:
        return list(events)
    number = re.compile(r"\b(" + "|".join(pids) + r")\b")
    return [event.replace(text=number.sub("PID", event.text)) if event.call in ("say", "error", "note")
            else event for event in events]
