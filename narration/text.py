"""Text from the network, made safe to show: the one table of characters that must never act.

Every view and every relay uses this table: a control character (ESC, BEL, C1 codes), a line or
paragraph separator, a zero-width or bidi-controlling character arrives as its spelling
(``\\x1b``, ``\\u202e``), never as an order to somebody's terminal.

- ``visible(text)``: for text one person sends to another (chat, relay): tabs are kept.
- ``spelled(char)``: the spelling of one such character, for views that style it apart.
- ``CONTROL``: a regular expression matching every character in the table.
"""
from __future__ import annotations

import re

_CODES = [*range(0x20), *range(0x7f, 0xa0), 0x2028, 0x2029,
          *range(0x200b, 0x2010), *range(0x202a, 0x202f), *range(0x2066, 0x206a),
          # invisible, joining, bidi and tag characters: they draw nothing, or reorder what follows
          0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810),
          *range(0x2060, 0x2066), 0x3164, 0xFEFF, 0xFFA0, *range(0xFFF9, 0xFFFC),
          *range(0x1BCA0, 0x1BCA4), *range(0x1D173, 0x1D17B), *range(0xE0000, 0xE0080)]
_NAMED = {0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t"}


def _spelling(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


SPELLING: dict[int, str] = {code: _NAMED.get(code) or _spelling(code) for code in _CODES}


def _character_class(codes: list[int]) -> str:
    """``[...]`` with runs of consecutive codes as ranges: a small pattern compiles fast."""
    runs: list[list[int]] = []
    for code in sorted(set(codes)):
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in runs) + "]"


CONTROL = re.compile(_character_class(_CODES))

# Relayed text keeps its tabs (a person typed them); line ends never occur inside a relayed line,
# but any other carriage return or newline is spelled as the \x escape a student can look up.
_RELAYED = {code: _spelling(code) for code in _CODES if code != 0x09}


# A port number in narrated text ("127.0.0.1:5050", "local port 41234"), for making ports stable.
PORT_NUMBER = re.compile(r"(?:(?<=:)|(?<=port ))\d{2,5}\b")

# A time in narrated text, different every run: a Unix timestamp with microseconds (a ping's
# "1712345678.123456") or milliseconds with three decimals (a round trip's "0.081 ms").
TIME_FIGURE = re.compile(r"\b\d{10}\.\d{6}\b|\b\d+\.\d{3} ms\b")


def timeless(text: str) -> str:
    """``text`` with each time figure as a placeholder (``TIMESTAMP``, ``#.### ms``), for
    screenshots and for comparing runs: the figure's place is kept, its value never is."""
    return TIME_FIGURE.sub(lambda match: "#.### ms" if match.group().endswith("ms") else "TIMESTAMP", text)


def spelled(char: str) -> str:
    return SPELLING[ord(char)]


def visible(text: str) -> str:
    """One person's text made safe for another's terminal: every control character (ESC, BEL,
    bidi overrides...) spelled out, so ``\\x1b[2J`` arrives as those characters, not as an order."""
    return text.translate(_RELAYED)


def address_text(address) -> str:
    """``127.0.0.1:5050``, or ``[::1]:5050`` for IPv6."""
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
