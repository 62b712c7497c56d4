"""Log lines as JSON (LOG_FORMAT=json, the default in production): time, level, logger, event,
the `key=value` fields DTQ's messages carry (job_id, task_type, attempt, tenant, ...), the
process's own (service, worker) and, inside a traced span, trace_id and span_id. Messages carry
ids and counts only: never payloads, results, keys or passwords."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

FIELD = re.compile(r"(?:^|\s)([a-z_][a-z0-9_]*)=(\S*)")


def split_message(message: str) -> tuple[str, dict[str, str]]:
    """("job started", {"job_id": ..}) from "job started job_id=.. task_type=..": the event is
    the text before the first key=value field."""
    first = FIELD.search(message)
    if first is None:
        return message, {}
    return message[: first.start()].strip(), dict(FIELD.findall(message[first.start() :]))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `static` fields go on every line."""

    def __init__(self, static: dict[str, str] | None = None) -> None:
        super().__init__()
        self.static = static or {}

    def format(self, record: logging.LogRecord) -> str:
        event, fields = split_message(record.getMessage())
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
            **self.static,
            **fields,
        }
        line.update(_trace_ids())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def _trace_ids() -> dict[str, str]:
    from dtq.tracing import tracing_enabled

    if not tracing_enabled():
        return {}
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
