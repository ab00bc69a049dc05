"""Log lines that input cannot forge: control characters in a message are escaped.

Stream names, property names and values come from the tap; logged verbatim, a name
holding a newline could print a whole fake log line (say, an ERROR in a successful
run). The filter goes on every handler, so it covers the SDK's lines as well as ours.
"""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


class EscapeControlCharacters(logging.Filter):
    """Rewrites a record whose message holds control characters (``\\n`` -> ``\\\\n``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record."""
        message = record.getMessage()
        if _CONTROL.search(message):
            record.msg, record.args = _CONTROL.sub(_escape, message), None
        return True


def install() -> None:
    """Add the filter to every handler of the root logger and of named loggers."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, EscapeControlCharacters) for f in handler.filters):
                handler.addFilter(EscapeControlCharacters())
