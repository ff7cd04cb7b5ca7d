"""One mode's server alone in a process, for bench/hostile.py.

    python bench/_serve.py MODE [--max-clients N]

Prints the port it listens on (127.0.0.1), then serves until its stdin closes.  The run keeps no
events, as a long-lived server would.
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import modes
from narration.run import Run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode")
    parser.add_argument("--max-clients", type=int)
    options = parser.parse_args()
    serve = modes.load(options.mode).server
    if options.max_clients:
        serve = functools.partial(serve, max_clients=options.max_clients)
    run = Run(keep=False)
    me = run.actor("server")
    run.start(me, serve, me, ("127.0.0.1", 0), run.ready, critical=True)
    _, port = run.ready.wait(5)
    print(port, flush=True)
    sys.stdin.read()                 # the bench closes our stdin when it is done with us
    run.finish()
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
