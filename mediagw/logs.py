"""Logging set-up: one line per event, with call and stream ids; JSON lines when configured.

Whatever a log line holds may have come from a client (a URL path, a header, a Call-ID), so both formatters
escape every C0 and C1 control character (a CR/LF cannot forge a line, an ESC cannot drive a terminal) and bound
what one event can write: each argument and context field to `MAX_FIELD_CHARS`, the message to
`MAX_MESSAGE_CHARS`. A traceback keeps its own line breaks, each of its lines indented in text logs, so that no
line of it can pass for an entry of its own.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

CONTEXT_FIELDS = ("call_id", "stream_id", "ingress", "request_id", "code")
MAX_FIELD_CHARS = 256
MAX_MESSAGE_CHARS = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape(text: str) -> str:
    """Control characters (C0, DEL, C1) written as \\xNN: nothing that came from outside acts on the log."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def clip(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """At most `limit` characters of `text`, saying how much was left off."""
    return text if len(text) <= limit else f"{text[:limit]}...(+{len(text) - limit} chars)"


def _clip_arg(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value  # %d and %f keep working
    text = str(value)
    return clip(text) if len(text) > MAX_FIELD_CHARS else value


def safe_message(record: logging.LogRecord) -> str:
    """The record's message with each argument bounded, then escaped and bounded as a whole."""
    args: Any = record.args
    if isinstance(args, dict):
        args = {key: _clip_arg(value) for key, value in args.items()}
    elif args:
        args = tuple(_clip_arg(value) for value in args)
    try:
        message = str(record.msg) % args if args else str(record.msg)
    except (TypeError, ValueError):
        message = record.getMessage()
    return escape(clip(message, MAX_MESSAGE_CHARS))


def _context(record: logging.LogRecord) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in CONTEXT_FIELDS:
        if hasattr(record, name):
            value = getattr(record, name)
            out[name] = value if isinstance(value, int | float) else escape(clip(str(value)))
    return out


def _escape_lines(text: str) -> list[str]:
    """A traceback's lines, each escaped (an exception message holding a line break is split, never raw)."""
    return [escape(line) for line in text.splitlines()]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": safe_message(record),
        }
        entry.update(_context(record))
        if record.exc_info:
            entry["exc"] = "\n".join(_escape_lines(self.formatException(record.exc_info)))
        return json.dumps(entry, default=str)


class ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.message = safe_message(record)
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        context = " ".join(f"{k}={v}" for k, v in _context(record).items())
        if context:
            line = f"{line} {context}"
        extra: list[str] = []
        if record.exc_info:
            extra += _escape_lines(self.formatException(record.exc_info))
        if record.stack_info:
            extra += _escape_lines(self.formatStack(record.stack_info))
        return "\n".join([line, *(f"  {text}" for text in extra)])


def configure_logging(level: str, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if as_json else ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
