"""A test module with a frontend that shows what reached it: HTTP requests echoed as JSON, a
slowly streamed answer, a redirect, a cookie, and a WebSocket that echoes (standard library
only: the module may run under the system's python3)."""

from __future__ import annotations

from typing import Any

from tests.module.factories import archive_bytes, manifest

SERVER = r"""
import base64, hashlib, json, os, struct, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
INSTANCE = os.environ.get("MODULE_INSTANCE_ID", "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = {
            "instance": INSTANCE,
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        self._send(200, json.dumps(payload).encode(), [("Content-Type", "application/json")])

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self._websocket()
        if self.path == "/":
            page = f"<html><body><h1>Echo</h1><p id=instance>{INSTANCE}</p></body></html>"
            return self._send(200, page.encode(), [("Content-Type", "text/html")])
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first\n", b"second\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
                time.sleep(2)
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/go":
            return self._send(302, b"", [("Location", "/landed")])
        if self.path == "/cookies":
            return self._send(
                200,
                b"ok",
                [("Set-Cookie", "module_pref=dark; Path=/"),
                 ("Set-Cookie", "stellwerk_session=stolen; Path=/")],
            )
        return self._echo()

    do_POST = do_PUT = do_DELETE = do_PATCH = _echo

    def _websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        asked = self.headers.get("Sec-WebSocket-Protocol", "")
        offered = [p.strip() for p in asked.split(",") if p.strip()]
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        if offered:
            self.send_header("Sec-WebSocket-Protocol", offered[0])
        self.end_headers()
        self.wfile.flush()
        self._frame(json.dumps({"instance": INSTANCE, "path": self.path,
                                "user": self.headers.get("X-Forwarded-User")}).encode())
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack(">H", self.rfile.read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:
                self._frame(data[:2] or struct.pack(">H", 1000), opcode=8)
                return
            if opcode == 1:
                self._frame(b"echo: " + data)

    def _frame(self, data, opcode=1):
        header = bytes([0x80 | opcode])
        if len(data) < 126:
            header += bytes([len(data)])
        else:
            header += bytes([126]) + struct.pack(">H", len(data))
        self.wfile.write(header + data)
        self.wfile.flush()


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def echo_manifest(version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    return manifest("echo", version, command=["{python}", "server.py", "{port}"], **extra)


def echo_archive(version: str = "1.0.0") -> bytes:
    return archive_bytes(echo_manifest(version), {"server.py": SERVER.encode()})
