"""Structured logging: one line per event, JSON or key=value, with the request id attached."""

from __future__ import annotations

import collections
import contextvars
import datetime as dt
import logging
import os
import sys
import threading
import time
from typing import Any, TextIO

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# uvicorn adds a `color_message` duplicate of every message.
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
    request_id = request_id_var.get()
    if request_id:
        fields.setdefault("request_id", request_id)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()

    def access_line(self, logger: str, message: str, seconds: float, request_id: str | None) -> str:
        """What `format` makes of an access log record, without the record."""
        payload: dict[str, Any] = {
            "ts": dt.datetime.now(dt.UTC).isoformat(),
            "level": "info",
            "logger": logger,
            "msg": message,
            "duration_ms": round(seconds * 1000, 1),
        }
        if request_id:
            payload["request_id"] = request_id
        return orjson.dumps(payload).decode()


class ConsoleFormatter(logging.Formatter):
    _second = -1
    _stamp = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # one strftime a second, not one a line
            self._stamp = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%H:%M:%S")
            self._second = second
        return self._stamp

    def format(self, record: logging.LogRecord) -> str:
        ts = self._time(record.created)
        extras = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line = f"{line}  {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line

    def access_line(self, logger: str, message: str, seconds: float, request_id: str | None) -> str:
        """What `format` makes of an access log record, without the record (the duration as
        `round(…, 1)` prints it, formatted directly: `round` with digits is the slower way)."""
        ms = seconds * 1000
        line = f"{self._time(time.time())} INFO    {logger}: {message}  duration_ms={ms:.1f}"
        return f"{line} request_id={request_id}" if request_id else line


class BatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes lines in batches rather than one system call per line (under load the access log
    writes a line per request). Lines wait at most `interval` seconds; a warning or worse goes
    out at once with everything before it. A fork flushes first, so no line is written twice."""

    def __init__(self, stream: TextIO, *, interval: float = 0.2) -> None:
        super().__init__(stream)
        self.interval = interval
        # Appended to without the handler's lock (a deque's append and popleft are atomic):
        # the access log adds a line per request.
        self._lines: collections.deque[str] = collections.deque()
        self._flusher: threading.Thread | None = None
        # A fork flushes first (no line twice); the child starts a flusher of its own.
        os.register_at_fork(before=self.flush, after_in_child=self._forked)

    def _forked(self) -> None:
        self._flusher = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._lines.append(line)  # Handler.handle holds the lock
        if record.levelno >= logging.WARNING:
            self.flush()
        elif self._flusher is None:
            self._start_flusher()

    def add_line(self, line: str) -> None:
        self._lines.append(line)
        if self._flusher is None:
            self._start_flusher()

    def _start_flusher(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_every, name="log-flusher", daemon=True
                )
                self._flusher.start()

    def _flush_every(self) -> None:
        me = threading.current_thread()
        while self._flusher is me:
            time.sleep(self.interval)
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            taken, lines = self._lines.popleft, []
            for _ in range(len(self._lines)):  # what came in meanwhile waits for the next turn
                lines.append(taken())
            try:
                if lines:
                    self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed stream at exit
                pass


_batching: BatchingHandler | None = None  # the handler `configure_logging` installed


def access(
    logger: logging.Logger,
    method: str,
    path: str,
    status: int,
    seconds: float,
    request_id: str | None = None,
) -> None:
    """One access log line (`METHOD path status`, the duration and the request id, by default
    the current request's): a line per request, so written straight to the batching handler
    when that is where it would go, without building a log record (the costly part)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    if request_id is None:
        request_id = request_id_var.get()
    handler, root = _batching, logging.root
    formatter = handler.formatter if handler is not None else None
    if (
        handler is None
        or logger.handlers
        or len(root.handlers) != 1
        or root.handlers[0] is not handler
        or not isinstance(formatter, ConsoleFormatter | JsonFormatter)
    ):
        token = request_id_var.set(request_id)
        try:
            duration_ms = round(seconds * 1000, 1)
            logger.info("%s %s %s", method, path, status, extra={"duration_ms": duration_ms})
        finally:
            request_id_var.reset(token)
        return
    message = f"{method} {path} {status}"
    handler.add_line(formatter.access_line(logger.name, message, seconds, request_id))


def flush_logs() -> None:
    """Write what the handlers hold (a forked child ends with os._exit: no atexit flush)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def configure_logging(*, level: str = "INFO", fmt: str = "console") -> None:
    # A record's thread, process and caller are never formatted: do not collect them (the
    # costly part of a record, made for every request's access log line).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    global _batching
    handler = _batching = BatchingHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore", "dbos", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    handler.addFilter(OnceFilter("Started server process"))


class OnceFilter(logging.Filter):
    """Lets a message through once: every listener of the process (API, sandboxes) is a uvicorn
    server of its own, and each would announce the same process."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(self.prefix):
            return True
        if self.seen:
            return False
        self.seen = True
        return True
