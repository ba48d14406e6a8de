"""Whether a port Stellwerk is to listen on is free, named after the setting that chooses it."""

from __future__ import annotations

import errno
import socket

from stellwerk.exceptions import StellwerkError


class PortInUse(StellwerkError):
    """A listening port is taken (or the address cannot be used); the message is one line that
    names the port and its setting."""

    default_code = "port_in_use"

    def __init__(self, host: str, port: int, setting: str, error: OSError) -> None:
        if error.errno == errno.EADDRINUSE:
            message = (
                f"port {port} ({setting}) is already in use on {host}; "
                f"stop what listens there or set {setting} to a free port"
            )
        else:
            message = f"cannot listen on {host}:{port} ({setting}): {error.strerror or error}"
        super().__init__(message)
        self.port = port
        self.setting = setting


def ensure_free(host: str, port: int, setting: str) -> None:
    """Bind and release `host:port` as the listener will (`SO_REUSEADDR`); `PortInUse` if that
    fails. Port 0 (any free port) always succeeds."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            raise PortInUse(host, port, setting, error) from None
