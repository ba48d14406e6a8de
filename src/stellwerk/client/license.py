"""A client for Stellwerk's license server: activate, verify, sessions with a background
heartbeat, and the offline check of a signed license file.

    async with LicenseClient("https://licenses.example.com", api_key) as client:
        await client.activate(key, hardware_hash, machine_name="DESKTOP-1", app_version="1.0.0")
        result = await client.verify(key, hardware_hash, app_version="1.0.0")
        async with client.session(key, hardware_hash, version="1.0.0") as session:
            ...  # heartbeats run in the background until the block ends

    file = await client.license_file(key, hardware_hash)      # store it next to the app
    payload = verify_license_file(file, public_key_pem, hardware_hash=hardware_hash)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import json
from types import TracebackType
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class LicenseError(Exception):
    """The server refused a request; `code` is its machine-readable reason."""

    def __init__(self, status: int, code: str, message: str, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class InvalidLicenseFile(Exception):
    """The license file is damaged, forged, expired or for another machine."""


class LicenseClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"X-API-Key": api_key},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> LicenseClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, json_body: Any = None, params: Any = None
    ) -> dict[str, Any]:
        response = await self._http.request(method, path, json=json_body, params=params)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            raise LicenseError(
                response.status_code,
                str(body.get("code", "HTTP_ERROR")),
                str(body.get("error", response.reason_phrase)),
                body if isinstance(body, dict) else {},
            )
        result: dict[str, Any] = body
        return result

    async def activate(
        self,
        license_key: str,
        hardware_hash: str,
        *,
        machine_name: str | None = None,
        app_version: str | None = None,
    ) -> dict[str, Any]:
        return await self._call(
            "POST",
            "/api/license/activate",
            json_body={
                "license_key": license_key,
                "hardware_hash": hardware_hash,
                "machine_name": machine_name,
                "app_version": app_version,
            },
        )

    async def deactivate(self, license_key: str, hardware_hash: str) -> dict[str, Any]:
        return await self._call(
            "POST",
            "/api/license/deactivate",
            json_body={"license_key": license_key, "hardware_hash": hardware_hash},
        )

    async def verify(
        self, license_key: str, hardware_hash: str, *, app_version: str | None = None
    ) -> dict[str, Any]:
        """The server's verdict: `valid`, and `reason` when it is not."""
        return await self._call(
            "POST",
            "/api/license/verify",
            json_body={
                "license_key": license_key,
                "hardware_hash": hardware_hash,
                "app_version": app_version,
            },
        )

    async def info(self, license_key: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/license/info/{license_key}")

    async def check_version(
        self, current_version: str, *, license_key: str | None = None
    ) -> dict[str, Any]:
        return await self._call(
            "POST",
            "/api/version/check",
            json_body={"current_version": current_version, "license_key": license_key},
        )

    async def latest_version(self) -> dict[str, Any]:
        return await self._call("GET", "/api/version/latest")

    async def license_file(self, license_key: str, hardware_hash: str) -> dict[str, Any]:
        return await self._call(
            "GET", f"/api/license/file/{license_key}", params={"hardware_hash": hardware_hash}
        )

    async def public_key(self) -> str:
        """The server's Ed25519 public key (PEM); ship it with the application."""
        return str((await self._call("GET", "/api/license/public-key"))["public_key"])

    def session(
        self,
        license_key: str,
        hardware_hash: str,
        *,
        machine_id: str | None = None,
        version: str | None = None,
        client_name: str | None = None,
        heartbeat_interval: float | None = None,
    ) -> LicenseSession:
        return LicenseSession(
            self,
            license_key=license_key,
            hardware_hash=hardware_hash,
            machine_id=machine_id,
            version=version,
            client_name=client_name,
            heartbeat_interval=heartbeat_interval,
        )


class LicenseSession:
    """A license session that sends heartbeats in the background while it is open."""

    def __init__(
        self,
        client: LicenseClient,
        *,
        license_key: str,
        hardware_hash: str,
        machine_id: str | None,
        version: str | None,
        client_name: str | None,
        heartbeat_interval: float | None,
    ) -> None:
        self._client = client
        self.license_key = license_key
        self.hardware_hash = hardware_hash
        self.machine_id = machine_id
        self.version = version
        self.client_name = client_name
        self._interval_override = heartbeat_interval
        self.token: str | None = None
        self.started: dict[str, Any] = {}
        self.heartbeats = 0
        self.error: LicenseError | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LicenseSession:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.end()

    async def start(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "license_key": self.license_key,
            "hardware_hash": self.hardware_hash,
            "machine_id": self.machine_id,
            "version": self.version,
        }
        if self.client_name:
            body["client_name"] = self.client_name
        self.started = await self._client._call(
            "POST", "/api/license/session/start", json_body=body
        )
        self.token = str(self.started["session_token"])
        interval = self._interval_override or float(self.started["heartbeat_interval"])
        self._task = asyncio.create_task(self._beat(interval))
        return self.started

    async def heartbeat(self) -> dict[str, Any]:
        if self.token is None:
            raise RuntimeError("The session has not started")
        result = await self._client._call(
            "POST",
            "/api/license/session/heartbeat",
            json_body={"session_token": self.token, "license_key": self.license_key},
        )
        self.heartbeats += 1
        return result

    async def _beat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.heartbeat()
            except LicenseError as error:
                # The server ended the session (timeout, license revoked): stop beating.
                self.error = error
                return
            except httpx.HTTPError:
                continue  # a network hiccup: the next beat may get through

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def end(self) -> dict[str, Any] | None:
        """Stop the heartbeat and end the session; returns its duration and end reason."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.token is None:
            return None
        token, self.token = self.token, None
        return await self._client._call(
            "POST", "/api/license/session/end", json_body={"session_token": token}
        )


def verify_license_file(
    license_file: dict[str, Any],
    public_key_pem: str | bytes,
    *,
    hardware_hash: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Check a license file offline; returns its payload or raises `InvalidLicenseFile`."""
    try:
        payload = base64.b64decode(license_file["payload"], validate=True)
        signature = base64.b64decode(license_file["signature"], validate=True)
    except (KeyError, TypeError, binascii.Error) as error:
        raise InvalidLicenseFile("The license file is malformed") from error
    if license_file.get("algorithm") != "Ed25519":
        raise InvalidLicenseFile("The license file uses an unknown algorithm")
    pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidLicenseFile("The public key is not an Ed25519 key")
    try:
        key.verify(signature, payload)
    except InvalidSignature as error:
        raise InvalidLicenseFile("The license file's signature does not match") from error
    document: dict[str, Any] = json.loads(payload)
    if document.get("hardware_hash") != hardware_hash:
        raise InvalidLicenseFile("The license file belongs to another machine")
    moment = now or dt.datetime.now(dt.UTC)
    expires_at = dt.datetime.fromisoformat(str(document["expires_at"]).replace("Z", "+00:00"))
    if moment >= expires_at:
        raise InvalidLicenseFile("The license file has expired")
    return document
