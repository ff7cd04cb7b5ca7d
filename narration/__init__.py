"""The narration kit: real sockets whose every call becomes a small frozen event, and the views.

It stands on its own: it never imports the launcher (``demo.py``) or a mode (``modes/``), so any
program can be narrated with it, not only ours.

    program code ──calls──▶ sockets.NarratedSocket ──▶ the real socket
                                 │
                                 └─ events.Event ──▶ trace.Trace ──▶ views.live (as it happens)
                                                          │
                 order.canonical (one stable order) ◀─────┘
                          │
                          └─▶ views: log, ladder, explain ──▶ the terminal
                                                         └──▶ screenshots: svg, png, fonts

    events       what happened: one frozen class per kind (Connect, Recv, Say, ...), compared with ==
    trace        how it was recorded (sequence, time, thread, causal edges) and who is listening
    run          a run's actors, threads and sockets; readiness; when the run is quiet
    sockets      NarratedSocket: the textbook calls (TCP and UDP), narrated
    selector     selectors' select(), narrated, for one-thread servers (poll; epoll for a class)
    crowd        a one-thread server's many clients: bounded outboxes, fair turns (no socket calls)
    limits       open files, a spare descriptor, short steps: what a server meets at scale
    order        canonical order, and ports made stable for comparison
    scene        who speaks when in a one-process run: data (Scene, Joins, Types), played by perform()
    framing      where a message ends: pure functions over bytes
    text         the one table of characters that must never act on a terminal
    oses         what differs from one OS to the next, named in one place
    keyboard     lines a person types, read by a thread (every OS)
    errors       Stopped, PeerClosed, ScreenshotError, one readable line per network error
    discovery    modes and lessons by file: every public module of a package is one
    views/       log, ladder, live, explain; the theme
    screenshots/ svg, png, fonts: byte-identical files from the events
    lessons/     one file per classic mistake, run for real, then the fix
    programs/    a student's own programs (--run), each in its own process, every call reported
"""
