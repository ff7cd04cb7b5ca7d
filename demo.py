#!/usr/bin/env python3
"""Watch a real TCP server and client talk: every socket call, narrated.

    python demo.py --mode echo                 both ends in this process, scripted
    python demo.py --mode echo --interactive   you type the client's lines
    python demo.py --mode echo --role server   only the server (students connect with nc)
    python demo.py --mode echo --role client --host H   only the client, against H
    python demo.py --lesson stream             a classic mistake, failing for real, then the fix
    python demo.py --run server.py --run "client.py localhost 12000" --send hello   your own programs
    python demo.py --list                      the modes

The launcher is thin: it parses the command line, starts the mode's server in a thread, waits
for the server's ready signal (never a sleep), plays the clients' scene, hands the run's events
to a view, and maps whatever went wrong to one exit code.  Modes live in ``modes/``; everything
else (narrated sockets, scenes, views, screenshots, lessons) in the kit, ``narration/``.
"""
from __future__ import annotations

import signal
import sys


def _interrupted_early(signum, frame):
    """Ctrl-C while this file is still being set up: exit as at any other moment (130, no traceback)."""
    sys.stderr.write("interrupted\n")
    raise SystemExit(130)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _interrupted_early)   # until main() takes Ctrl-C over

import argparse  # noqa: E402 - after the handler above, so that Ctrl-C during these is quiet too
import contextlib  # noqa: E402
from enum import IntEnum  # noqa: E402

VERSION = "0.2.0"
READY_TIMEOUT = 5.0     # seconds a client waits for the server's "listening" signal
ROLE_PORT = 5050        # split roles need a port both sides know; 0 still means "any free port"


class Exit(IntEnum):
    """Exit codes: one per outcome a script or a teacher may want to tell apart."""

    OK = 0              # the run ended the way the mode's rules say
    FAILED = 1          # something unexpected; the message says what
    USAGE = 2           # bad command line: unknown mode, bad flag
    REFUSED = 3         # connection refused: nothing is listening at host:port
    UNREACHABLE = 4     # host unknown (name does not resolve) or unreachable
    TIMEOUT = 5         # connect (or a reply) timed out
    PORT_IN_USE = 6     # the server's port is taken
    SERVER_GONE = 7     # the server closed or vanished mid-session
    RESET = 8           # the peer reset the connection
    SCREENSHOT = 9      # the screenshot could not be written (no usable font, bad path)
    NOT_ALLOWED = 10    # the OS refused: a port below 1024 without admin rights, or a firewall
    INTERRUPTED = 130   # Ctrl-C (128 + SIGINT, as shells report it)


EXAMPLES = """\
examples:
  python demo.py --mode echo                        both ends here, scripted
  python demo.py --mode chat --interactive          you type beside two scripted students
  python demo.py --mode echo --role server --host 0.0.0.0     a teacher's server for the class
  python demo.py --mode echo --role client --host 192.168.1.20 --port 5050   a student's client
  python demo.py --lesson stream                    a classic mistake, then its fix
  python demo.py --mode ordering --view ladder --screenshot ordering.svg
  python demo.py --run "server.py 12000" --run "client.py localhost 12000" --send hello   your own programs
"""


def exit_codes() -> str:
    """The exit codes, as --help lists them (from Exit and its comments, so they never drift)."""
    import inspect

    notes = {}
    for line in inspect.getsource(Exit).splitlines():
        name, _, comment = line.strip().partition("#")
        if "=" in name:
            notes[name.split("=")[0].strip()] = comment.strip()
    return "exit codes:\n" + "\n".join(f"  {code.value:<4} {notes.get(code.name, '')}" for code in Exit) + "\n"


class UsageError(Exception):
    """A command-line mistake; its text is the one line we print."""


class _InOrder(argparse.Action):
    """Appends as action="append" does, and keeps --run and --send in the order given
    (``options.script``): each --send line belongs to the --run before it."""

    def __call__(self, parser, namespace, value, option_string=None):
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), value])
        namespace.script = [*getattr(namespace, "script", []), (self.dest, value)]


class _Parser(argparse.ArgumentParser):
    def format_help(self) -> str:   # lessons, examples and exit codes: read only when help is asked for
        from narration import lessons

        lines = [f"  {name:<12} {lessons.load(name).SUMMARY}" for name in lessons.names()]
        return (super().format_help() + "\nlessons (--lesson NAME):\n" + "\n".join(lines) + "\n\n"
                + EXAMPLES + "\n" + exit_codes())

    def error(self, message: str):  # one line, naming the valid choices, instead of argparse's two
        if "unrecognized arguments" in message:
            flags = ", ".join(sorted({s for a in self._actions for s in a.option_strings if s.startswith("--")}))
            message = f"{message} (valid flags: {flags})"
        raise UsageError(message)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    import modes
    from narration import lessons

    mode_names, lesson_names = modes.names(), lessons.names()
    parser = _Parser(prog="demo.py", description="Watch a real TCP server and client talk.")
    parser.add_argument("--version", action="version", version=f"demo.py {VERSION}")
    parser.add_argument("--mode", choices=mode_names, metavar="NAME",
                        help=f"which demo to run: {', '.join(mode_names)}")
    parser.add_argument("--list", action="store_true", help="list the modes and exit")
    parser.add_argument("--send", action=_InOrder, metavar="TEXT",
                        help="a line for the first client to send, instead of its script (repeatable); "
                             "after --run PROGRAM, a line typed into that program")
    parser.add_argument("--run", action=_InOrder, metavar="'PROGRAM [ARGS]'",
                        help="run your own Python program under narration, each in its own process, "
                             "in the order given (repeatable): --run server.py --run 'client.py localhost 12000'")
    parser.add_argument("--interactive", action="store_true",
                        help="type the client's lines yourself while the server runs")
    parser.add_argument("--role", choices=("both", "server", "client"), default="both",
                        help="both ends in this process (default), or only one of them")
    parser.add_argument("--host", default="127.0.0.1", metavar="H",
                        help="server: the address to bind (0.0.0.0 serves other machines); "
                             "client: the server to connect to (default 127.0.0.1)")
    parser.add_argument("--port", type=int, metavar="P",
                        help=f"the server's port (default: any free port in one process, {ROLE_PORT} for split roles)")
    parser.add_argument("--keep-serving", action="store_true",
                        help="number-add: answer a number outside 1..100 instead of closing the server (for a class)")
    parser.add_argument("--max-clients", type=int, metavar="N",
                        help="chat: how many may join at once; the next is refused politely (default 250)")
    parser.add_argument("--framing", choices=("line", "raw"), default="line",
                        help="client role: line (each line ends in a newline, as netcat sends it; default) or "
                             "raw (each line exactly as typed, no newline: for servers that compare a whole recv())")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="how long a client's connect() may take (default 10): the server's "
                             "kernel completes it, before any accept()")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="also write the run to PATH: .svg, .html, .txt, .png, .mmd (Mermaid), .cast (asciinema), "
                             ".gif or .webp")
    parser.add_argument("--width", type=int, metavar="N", help="screenshot width in columns (default 80)")
    parser.add_argument("--font", metavar="FILE", help="a monospace .ttf or .otf font for PNG screenshots")
    parser.add_argument("--tcp", action="store_true",
                        help="after each call, the kernel's TCP state and queued bytes of both ends "
                             "(LISTEN, ESTABLISHED, CLOSE_WAIT, TIME_WAIT...; Linux and macOS)")
    parser.add_argument("--quiz", action="store_true",
                        help="replay the run and, before each accept, connect and recv, ask the class what "
                             "happens next (type a, b or c), then show the real call; the score comes last")
    parser.add_argument("--theme", choices=("dark", "light"), default="dark",
                        help="colours for a dark (default) or a light background: terminal and screenshots")
    parser.add_argument("--embed-font", action="store_true",
                        help="an .svg screenshot carries its font (cut to the characters shown): the same in any viewer")
    parser.add_argument("--animate", action="store_true",
                        help="an .svg screenshot plays the run one event at a time (once, then stays)")
    parser.add_argument("--view", choices=("log", "ladder"), default="log",
                        help="log: one line per call (default); ladder: a sequence diagram, one lane per actor")
    parser.add_argument("--explain", action="store_true",
                        help="a plain-language note beside the first use of each kind of socket call")
    parser.add_argument("--wire", action="store_true",
                        help="every byte of every send and recv, with its place in the stream")
    parser.add_argument("--step", action="store_true", help="press Enter to show each next event (for a class)")
    parser.add_argument("--pace", type=float, metavar="SECONDS",
                        help="show the events one by one, this many seconds apart (for a class)")
    parser.add_argument("--lesson", "--pitfall", dest="lesson", choices=lesson_names, metavar="NAME",
                        help=f"a classic mistake, failing for real, then the fix: {', '.join(lesson_names)} "
                             "(listed below; --pitfall is the same)")
    options = parser.parse_args(argv)
    if options.run:
        refuse_with_programs(options)
    elif not options.list and options.mode is None and options.lesson is None:
        raise UsageError(f"choose a mode with --mode NAME ({', '.join(mode_names)}), a --lesson, --run, or --list")
    refuse_idle_flags(options)
    if options.send and options.interactive:
        raise UsageError("--send and --interactive both give the client's lines; choose one")
    if options.role == "server" and (options.send or options.interactive):
        raise UsageError("--role server has no client lines: drop --send/--interactive, or use --role client")
    if options.port is None:
        options.port = 0 if options.role == "both" else ROLE_PORT
    if options.role == "client" and options.port == 0:
        raise UsageError("--role client needs the server's port: --port P (the server prints it)")
    if options.pace is not None and not 0 <= options.pace <= 60:
        raise UsageError(f"--pace {options.pace}: give seconds between 0 and 60")
    if options.lesson:
        if options.role != "both":
            raise UsageError("--lesson runs both ends in one process: drop --role")
        if options.send or options.interactive:
            raise UsageError("--lesson plays its own script: drop --send/--interactive")
    if options.max_clients is not None:
        if options.mode != "chat":
            raise UsageError("--max-clients is for --mode chat (the other modes serve one or two at a time)")
        if options.max_clients < 1:
            raise UsageError(f"--max-clients {options.max_clients}: at least 1")
    if options.timeout is not None and options.role == "server":
        raise UsageError("--timeout is how long a client waits: drop it with --role server")
    options.timeout = 10.0 if options.timeout is None else options.timeout
    if not 0 < options.timeout <= 24 * 60 * 60:       # also refuses inf and nan
        raise UsageError(f"--timeout {options.timeout}: give a number of seconds from 0 to 86400")
    if options.width is not None and not 40 <= options.width <= 400:
        raise UsageError(f"--width {options.width}: choose a width from 40 to 400 columns")
    if options.screenshot and not options.screenshot.lower().endswith(
            (".svg", ".html", ".txt", ".png", ".mmd", ".cast", ".gif", ".webp")):
        raise UsageError(f"--screenshot {options.screenshot}: the name must end in .svg, .html, .txt, .png, .mmd, "
                         ".cast, .gif or .webp")
    if not 0 <= options.port <= 65535:
        raise UsageError(f"--port {options.port}: a port is a number from 0 to 65535")
    return options


def refuse_with_programs(options) -> None:
    """--run: the flags that shape our own modes' servers and clients do nothing for a program."""
    from narration import programs

    given = [flag for flag, value in (("--mode", options.mode), ("--lesson", options.lesson),
                                      ("--role", options.role != "both"),
                                      ("--host", options.host != "127.0.0.1"), ("--port", options.port is not None),
                                      ("--keep-serving", options.keep_serving), ("--framing", options.framing != "line"),
                                      ("--max-clients", options.max_clients is not None),
                                      ("--timeout", options.timeout is not None),
                                      ("--tcp", getattr(options, "tcp", False))) if value]
    if given == ["--tcp"]:
        raise UsageError("--tcp reads the kernel's state of this process's own sockets: not for --run's programs yet")
    if given:
        raise UsageError(f"{given[0]} is for our own modes: a program run with --run takes its address, "
                         "port and lines from its own arguments and --send")
    problem = programs.problem(options.script)
    if problem:
        raise UsageError(problem)


def refuse_idle_flags(options) -> None:
    """A flag that would do nothing in this combination is a usage error, never silence."""
    given = (lambda flag: getattr(options, flag) not in (None, False))
    if (options.width is not None or options.font) and not options.screenshot:
        raise UsageError("--width and --font shape a screenshot: add --screenshot PATH")
    if options.animate and not (options.screenshot or "").lower().endswith(".svg"):
        raise UsageError("--animate makes an .svg screenshot play: add --screenshot NAME.svg "
                         "(a .cast is a recording already)")
    if options.embed_font and not (options.screenshot or "").lower().endswith(".svg"):
        raise UsageError("--embed-font puts the font into an .svg screenshot: add --screenshot NAME.svg")
    if options.font and not (options.screenshot.lower().endswith((".png", ".gif", ".webp")) or options.embed_font):
        raise UsageError("--font is for .png, .gif and .webp screenshots, or an .svg with --embed-font "
                         "(else an SVG names its fonts, and its viewer draws them)")
    if options.role != "both":
        for flag in ("screenshot", "step", "pace"):
            if given(flag):
                raise UsageError(f"--{flag} shows a whole run made in this process: drop --role {options.role}")
        if options.view != "log":
            raise UsageError(f"--view {options.view} draws a finished run: a --role shows its calls as they happen")
    if options.quiz and options.interactive:
        raise UsageError("--quiz asks before calls of a replay or of your own end (--role): not with --interactive")
    if options.interactive and (options.step or options.pace):
        raise UsageError("--step and --pace replay a finished run: not with --interactive, which shows it live")
    if options.interactive and options.view != "log":
        raise UsageError(f"--view {options.view} draws a finished run: --interactive shows it live")
    if options.step and options.pace:
        raise UsageError("--step (on Enter) and --pace (every few seconds) both pace the replay; choose one")
    if options.role == "client" and options.max_clients is not None:
        raise UsageError("--max-clients limits a server: drop it with --role client")
    if options.framing != "line" and options.role != "client":
        raise UsageError("--framing is how a client role sends its lines: add --role client")
    if options.keep_serving and options.mode != "number-add":
        raise UsageError("--keep-serving is for --mode number-add (the others keep serving anyway)")
    if options.keep_serving and options.role == "client":
        raise UsageError("--keep-serving changes the server: drop it with --role client")
    if options.lesson and (options.max_clients is not None or options.keep_serving):
        raise UsageError("--max-clients and --keep-serving change a mode's server: a lesson has its own")
    if options.lesson and (options.host != "127.0.0.1" or options.port):
        raise UsageError("a lesson runs on this machine's loopback on ports of its own: drop --host/--port")


# -- the three roles -------------------------------------------------------------------------------
def run_in_process(options, run, console) -> Exit:
    """Both ends here: the server in a thread, the scene's clients once it says it is listening."""
    import modes
    from narration import lessons
    from narration.order import canonical, shown

    live = options.interactive
    with shown_live(run, console, options) if live else contextlib.nullcontext():
        if options.lesson:
            lessons.load(options.lesson).play(run)
        else:
            play(modes.load(options.mode), run, options)
        run.finish()
    records = canonical(run.trace)
    events = shown(records)
    if not live:
        show_finished(console, events, run.trace.actor_rank, options, records)
    if options.screenshot:
        save_screenshot(options, events, run.trace.actor_rank)
    if run.failures:
        raise run.failures[0]
    return Exit.OK


def run_programs(options, run, console) -> Exit:
    """--run: the student's own programs, each in its own process, narrated (narration.programs)."""
    from narration import programs
    from narration.order import canonical, shown

    live = options.interactive          # what you type goes to the last program; events shown as they come
    ran = programs.programs_of(options.script)
    try:
        with shown_live(run, console, options) if live else contextlib.nullcontext():
            typed = None
            if live:
                from narration.keyboard import TypedLines
                typed = TypedLines("", stopping=run.stopping)
            programs.play(run, ran, typed=typed)
        interrupted = False
    except KeyboardInterrupt:           # Ctrl-C: every program ended; what they did is still shown
        interrupted = True
    records = canonical(run.trace)
    events = shown(records)
    if not live:
        show_finished(console, events, run.trace.actor_rank, options, records)
    if options.screenshot:
        save_screenshot(options, programs.without_pids(events, ran), run.trace.actor_rank,
                        title=programs.title(command_line(options), events))
    if interrupted:
        print("interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    return Exit.OK


def play(mode, run, options, scene=None) -> None:
    """Start the mode's server, wait until it listens, then perform the mode's scene against it."""
    from narration.scene import Scene, perform

    server = run.actor("server")
    run.start(server, server_of(mode, options), server, (options.host, options.port), run.ready)
    address = reachable(run.ready.wait(READY_TIMEOUT))
    scene = scene or getattr(mode, "SCENE", None) or Scene(parts={"client": mode.SCRIPT})
    if options.interactive:
        from narration.keyboard import TypedLines

        scene = getattr(mode, "LIVE_SCENE", None) or scene
        perform(run, scene, mode.client, address, TypedLines("you> ", stopping=run.stopping),
                person=scene.first)
    else:
        perform(run, scene, mode.client, address, options.send)


def run_server_role(options, run, console) -> Exit:
    """Only the server, in the foreground, until the mode's rules end it or Ctrl-C."""
    import modes
    from narration.scene import PATIENCE, wait_for_end

    mode = modes.load(options.mode)
    me = run.actor("server")
    quiz_for_the_person(options, run, console)
    with shown_live(run, console, options):
        server = run.start(me, server_of(mode, options), me, (options.host, options.port), run.ready,
                           critical=True)
        host, port = run.ready.wait(READY_TIMEOUT)
        for line in connect_hints(options, host, port):
            me.note(line)
        wait_for_end(run, server, PATIENCE)   # in short steps: Ctrl-C lands on every OS
        run.finish(timeout=1.0)          # the mode's rules ended it: let replies in flight go out first
    if run.quiz is not None:
        console.print(run.quiz.score(), style="quiz.ask", markup=False)
    if run.failures:
        raise run.failures[0]
    return Exit.OK


def run_client_role(options, run, console) -> Exit:
    """Only the client, against a server elsewhere: typed lines by default, or --send."""
    import modes
    from narration.keyboard import TypedLines
    from narration.scene import Scene, perform

    mode = modes.load(options.mode)
    run.raw_lines = options.framing == "raw"
    lines = options.send or TypedLines("you> ", stopping=run.stopping)
    quiz_for_the_person(options, run, console, None if options.send else lines)
    with shown_live(run, console, options):
        perform(run, Scene(parts={"client": ()}), mode.client, (options.host, options.port), lines,
                person="client")
    if run.quiz is not None:
        console.print(run.quiz.score(), style="quiz.ask", markup=False)
    if run.failures:
        raise run.failures[0]
    return Exit.OK


def quiz_for_the_person(options, run, console, typed=None) -> None:
    """--quiz in a split role: questions before this end's own calls, answered on the keyboard
    (the same typed lines as the messages, when the role reads any)."""
    if options.quiz:
        from narration.keyboard import TypedLines
        from narration.views.quiz import LiveQuiz

        run.quiz = LiveQuiz(console, typed if typed is not None else TypedLines("answer> ", stopping=run.stopping))


def server_of(mode, options):
    """The mode's server function, with the teacher's switches the command line set."""
    import functools

    switches = {}
    if options.max_clients is not None:
        switches["max_clients"] = options.max_clients
    if options.keep_serving:
        switches["keep_serving"] = True
    return functools.partial(mode.server, **switches) if switches else mode.server


def reachable(address) -> tuple:
    """Where a client should connect: a server bound to every address is reachable on loopback."""
    host, port = address[:2]
    return ({"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host), port)


def connect_hints(options, host: str, port: int) -> list[str]:
    """How students reach this server: netcat, or this program's client role."""
    import modes

    everywhere = host in ("0.0.0.0", "", "::")
    hosts = (machine_addresses() or ["THIS-MACHINE"]) if everywhere else [host]
    hints = [f"serving {options.mode} on {host}:{port}; Ctrl-C stops it"]
    netcat = "nc -u" if getattr(modes.load(options.mode), "TRANSPORT", "tcp") == "udp" else "nc"  # UDP: -u
    for address in hosts:
        hints.append(f"connect: {netcat} {address} {port}")
        hints.append(f"or: python demo.py --mode {options.mode} --role client --host {address} --port {port}")
    if everywhere:
        from narration import oses
        hints.append(f"no address works? this machine's addresses: {oses.ADDRESS_COMMAND}")
        hints.append(f"students cannot connect? {oses.FIREWALL.replace('PORT', str(port))}")
    return hints


def machine_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback: those its name resolves to, and the one
    it would use to reach the outside (a UDP connect() sends no packet; it only picks a route)."""
    import socket

    found: set[str] = set()
    try:
        found.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))         # TEST-NET-1: never routed anywhere real
            found.add(probe.getsockname()[0])
    except OSError:
        pass
    return sorted(address for address in found if not address.startswith(("127.", "0.")))


# -- showing the run ----------------------------------------------------------------------------------
def look(options, *, normalise: bool = False):
    from narration.views.log import Look
    return Look(times=not normalise, normalise=normalise, explain=options.explain, wire=options.wire)


@contextlib.contextmanager
def shown_live(run, console, options):
    """Print each event as it is recorded (interactive runs and split roles), while the block runs."""
    from narration.views.live import LiveView

    # A server with a room full of students may skip send/recv lines it cannot keep up with;
    # a client's own run, or the one-process demo, is shown in full.
    view = LiveView(console, run.trace.actor_rank, look(options), may_skip=options.role == "server")
    run.trace.listeners.append(view)
    try:
        yield view
    except BaseException:
        view.close(timeout=0.3)     # Ctrl-C or a failure: a moment for what is queued, then go
        raise
    view.close(timeout=None)        # the run is over: show every line of it


def show_finished(console, events, actor_rank, options, records=()) -> None:
    """A finished run on the terminal: all at once, or one event at a time (--step, --pace), with
    questions before some calls (--quiz: from ``records``, the run in canonical order)."""
    from narration.views import drawing, play_back

    view = drawing(events, actor_rank, kind=options.view, look=look(options))
    quiz = None
    if options.quiz:                   # by row: a ladder's first row is its header
        from narration.views.quiz import questions
        quiz = {index + (options.view == "ladder"): question for index, question in questions(records).items()}
    if options.step or options.pace or options.quiz:
        from narration.keyboard import TypedLines
        keyboard = TypedLines("") if options.step or (options.quiz and not options.pace) else None
        play_back(console, view, presses=keyboard if options.step else None, pace=options.pace, quiz=quiz,
                  answers=keyboard if options.quiz else None)
    else:
        console.print(view)


def save_screenshot(options, events, actor_rank, title: str | None = None) -> None:
    """Draw the finished run again, at a fixed width with ports normalised, and save it."""
    import shlex

    from narration.screenshots import save
    from narration.views import drawing, screenshot_width

    view = drawing(events, actor_rank, kind=options.view, look=look(options, normalise=True))
    save(view, options.screenshot, width=options.width or screenshot_width(options.view, events),
         title=title or shlex.join(command_line(options)), font=options.font, animate=options.animate,
         theme=options.theme, embed_font=options.embed_font)


def command_line(options) -> list[str]:
    """The command that draws this run again: a screenshot's title (the port does not matter)."""
    command = ["python", "demo.py"]
    if options.run:
        command += [item for kind, text in options.script for item in (f"--{kind}", text)]
    else:
        command += ["--lesson", options.lesson] if options.lesson else ["--mode", options.mode]
    for flag, value in (("--view", None if options.view == "log" else options.view),
                        ("--explain", options.explain), ("--wire", options.wire), ("--tcp", options.tcp),
                        ("--interactive", options.interactive), ("--max-clients", options.max_clients),
                        ("--keep-serving", options.keep_serving),
                        ("--width", options.width)):
        command += [flag] if value is True else [flag, str(value)] if value else []
    for line in () if options.run else options.send or ():
        command += ["--send", line]
    return command


# -- errors -------------------------------------------------------------------------------------------
def classify(error: BaseException, options=None) -> tuple[Exit, str]:
    """Every failure maps to an exit code here, and only here (by type, never by name)."""
    import errno
    import socket

    from narration.errors import PeerClosed, ScreenshotError, describe_network_error

    if isinstance(error, ScreenshotError):
        return Exit.SCREENSHOT, str(error)
    reason = describe_network_error(error)
    if isinstance(error, PeerClosed):
        return Exit.SERVER_GONE, f"{reason}: the server went away mid-session"
    where = f"{options.host}:{options.port}" if options is not None else "there"
    if isinstance(error, ConnectionRefusedError):
        if options is not None and options.role == "both":
            return Exit.REFUSED, ("connection refused: this run's server is no longer listening "
                                  "(its own rules closed it); the run is over")
        start = (f"python demo.py --mode {options.mode} --role server --port {options.port}"
                 if options is not None else "python demo.py --role server")
        return Exit.REFUSED, f"connection refused: nothing is listening at {where}; start the server with: {start}"
    if isinstance(error, ConnectionResetError):
        return Exit.RESET, reason
    if isinstance(error, socket.gaierror):
        host = options.host if options is not None else "the host"
        return Exit.UNREACHABLE, f"host unknown: {host!r} does not resolve to an address; check the spelling"
    if getattr(error, "errno", None) in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return Exit.UNREACHABLE, f"{reason}: no route to {where}; check the address and the network"
    if isinstance(error, TimeoutError):
        if options is not None and getattr(error, "during", None) == "connect":
            return Exit.TIMEOUT, (f"timed out: {where} did not accept the connection within {options.timeout:g} s "
                                  "(a firewall, a wrong address, or a server too busy to accept)")
        if options is not None and options.role == "client":
            return Exit.TIMEOUT, (f"timed out: no reply from {where} within {options.timeout:g} s "
                                  "(the server got the line but did not answer)")
        return Exit.TIMEOUT, f"timed out: {error}"
    if getattr(error, "errno", None) == errno.EADDRINUSE:
        return Exit.PORT_IN_USE, (f"port {options.port if options else ''} is already in use (another server is "
                                  "listening there): choose another --port, or --port 0 for any free port")
    if getattr(error, "errno", None) == errno.EADDRNOTAVAIL:
        if options is not None and options.role == "client":
            return Exit.UNREACHABLE, f"cannot reach {where} from this machine; check the address"
        return Exit.UNREACHABLE, f"{where} is not an address of this machine; bind 127.0.0.1 or 0.0.0.0"
    if isinstance(error, PermissionError) or getattr(error, "errno", None) in (errno.EACCES, errno.EPERM):
        if options is not None and options.role != "client" and 0 < options.port < 1024:
            return Exit.NOT_ALLOWED, (f"port {options.port} is reserved for administrators (every port below "
                                      "1024 is); choose one above 1023, e.g. --port 5050")
        return Exit.NOT_ALLOWED, f"{reason}: the system refused (a firewall, or a reserved address)"
    if isinstance(error, (BrokenPipeError, ConnectionError)):
        return Exit.SERVER_GONE, f"{reason}: the server went away"
    return Exit.FAILED, f"{type(error).__name__}: {error}"


def main(argv: list[str] | None = None) -> int:
    try:
        if signal.getsignal(signal.SIGINT) is _interrupted_early:
            signal.signal(signal.SIGINT, signal.default_int_handler)   # Ctrl-C is KeyboardInterrupt again
        return launch(argv)
    except KeyboardInterrupt:       # during start-up, before a run exists to stop
        print("interrupted", file=sys.stderr)
        return Exit.INTERRUPTED


def launch(argv: list[str] | None) -> int:
    utf8_output()
    if not (sys.argv[1:] if argv is None else argv):     # a bare `python demo.py`: how to start
        print("usage: python demo.py --mode NAME [options]   (or --lesson NAME, --list, --help)\n")
        print(EXAMPLES, end="")
        return Exit.USAGE
    try:
        options = parse_arguments(argv)
    except UsageError as problem:
        print(f"demo.py: error: {problem}", file=sys.stderr)
        return Exit.USAGE
    if options.list:
        import modes
        for name in modes.names():
            print(f"{name:<12} {modes.load(name).SUMMARY}")
        return Exit.OK

    from rich.console import Console

    from narration.run import Run
    from narration.views.theme import styles

    console = Console(theme=styles(options.theme), highlight=False)
    errors = Console(stderr=True, theme=styles(options.theme), highlight=False)
    if options.lesson and options.mode:
        errors.print(f"note: a lesson needs no mode; --mode {options.mode} changes nothing here",
                     style="note", markup=False)
    run = Run(keep=options.role == "both")
    run.connect_timeout = options.timeout
    if options.tcp:
        from narration.tcp_state import UNREADABLE
        if UNREADABLE:                           # say so once, and run without the states
            errors.print(f"note: {UNREADABLE}", style="note", markup=False)
        run.tcp = not UNREADABLE
    if ":" in options.host:                      # an IPv6 address: ::1, or :: for every address
        import socket
        run.family = socket.AF_INET6
    roles = {"both": run_in_process, "server": run_server_role, "client": run_client_role}
    try:
        return run_programs(options, run, console) if options.run else roles[options.role](options, run, console)
    except KeyboardInterrupt:
        # A server gets a moment to say goodbye to its clients (chat does); then every socket is cut.
        run.stop(grace=0.3 if options.role == "server" else 0.0)
        errors.print("interrupted", style="error")
        return Exit.INTERRUPTED
    except Exception as error:  # noqa: BLE001 - mapped to one readable line and an exit code
        run.stop()
        code, message = classify(error, options)
        errors.print(f"demo.py: {message}", style="error", markup=False, soft_wrap=True)
        return code


def utf8_output() -> None:
    """Write UTF-8 whatever the console or redirect would have chosen (cp1252 on a Windows
    redirect cannot even spell an arrow), and never crash on a character: it becomes '?'."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(encoding="utf-8", errors="replace")
        except (AttributeError, ValueError, OSError):
            pass    # not a text stream we may reconfigure (a test's capture, an IDE's console)


if __name__ == "__main__":
    sys.exit(main())
