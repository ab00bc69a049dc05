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


_DEMOTED = (
    "Target sink for '%s' is full.",  # every batch: our progress lines say it better
    "Skipping parse of env var settings",  # the SDK's, at every start
)


class DemoteChatter(logging.Filter):
    """Turns the SDK's per-batch and start-up chatter into DEBUG lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drops the record unless the logger shows DEBUG lines; then it is one."""
        if record.levelno == logging.INFO and str(record.msg).startswith(_DEMOTED):
            if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
                return False
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def install(logger_name: str = "target-redis") -> None:
    """Add the escaping filter to every handler of the root logger and of named
    loggers, and the demoting one to the target's logger."""
    target_logger = logging.getLogger(logger_name)
    if not any(isinstance(f, DemoteChatter) for f in target_logger.filters):
        target_logger.addFilter(DemoteChatter())
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, EscapeControlCharacters) for f in handler.filters):
                handler.addFilter(EscapeControlCharacters())
