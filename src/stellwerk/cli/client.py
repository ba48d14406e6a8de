"""The running server's HTTP API, as the command line sees it.

The base URL and the API token come from `STELLWERK_URL` / `STELLWERK_TOKEN`, else from the file
`stellwerk login` writes (`$XDG_CONFIG_HOME/stellwerk/cli.toml`, mode 0600). Every failure ends
the command with one line (a JSON object with `--json`): exit 3 when the server cannot be reached,
1 when it refuses the request.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    import httpx  # imported where a request is made: `stellwerk --help` needs none

DEFAULT_URL = "http://127.0.0.1:8000"
UNREACHABLE = 3
CONNECT_SECONDS = 3.0
READ_SECONDS = 120.0
RATE_LIMIT_WAITS = 3  # a 429 is waited out this often per call (the server says how long)
MAX_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str | None
    token_id: int | None = None


def config_path() -> Path:
    """Where `stellwerk login` keeps the server's URL and the token."""
    explicit = os.environ.get("STELLWERK_CLI_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "stellwerk" / "cli.toml"


def read_config() -> dict[str, Any]:
    path = config_path()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CliError(f"{path} cannot be read ({error}); run `stellwerk login` again") from error


def write_config(url: str, token: str, token_id: int) -> Path:
    """Store URL and token readable by the user alone."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # TOML basic strings take JSON's escapes for the characters a URL or token can hold.
    text = f"url = {json.dumps(url)}\ntoken = {json.dumps(token)}\ntoken_id = {token_id}\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    path.chmod(0o600)
    return path


def credentials() -> Credentials:
    """`STELLWERK_URL` / `STELLWERK_TOKEN` over the stored login, over the default URL."""
    stored = read_config()
    stored_url = str(stored.get("url") or "").rstrip("/")
    url = (os.environ.get("STELLWERK_URL") or stored_url or DEFAULT_URL).rstrip("/")
    if os.environ.get("STELLWERK_TOKEN"):
        return Credentials(url=url, token=os.environ["STELLWERK_TOKEN"])
    if url != stored_url:
        # The stored token belongs to the server it was made on and goes nowhere else.
        return Credentials(url=url, token=None)
    token, token_id = stored.get("token"), stored.get("token_id")
    return Credentials(
        url=url,
        token=str(token) if token else None,
        token_id=token_id if isinstance(token_id, int) else None,
    )


class CliError(Exception):
    """A failure the command reports in one line and ends with `exit_code`."""

    def __init__(
        self, message: str, *, code: str = "error", exit_code: int = 1, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.exit_code = exit_code
        self.extra = extra


def report(error: CliError, *, as_json: bool) -> NoReturn:
    """Print `error` in one line (a JSON object on stdout with `--json`) and end the command."""
    raise shown(error, as_json=as_json)


def shown(error: CliError, *, as_json: bool) -> typer.Exit:
    """Print `error` and return the exit to raise."""
    if as_json:
        body = {"error": error.code, "detail": error.message, **error.extra}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        from stellwerk.cli.common import console

        console.print(f"[red]error:[/red] {error.message}", soft_wrap=True, highlight=False)
    return typer.Exit(error.exit_code)


def _message(response: httpx.Response) -> tuple[str, str, dict[str, Any]]:
    """The API's error as (code, one line, extra keys), whichever surface's envelope it uses."""
    try:
        body = response.json()
    except ValueError:
        return "http_error", f"HTTP {response.status_code}: {response.text[:200]}", {}
    if not isinstance(body, dict):
        return "http_error", f"HTTP {response.status_code}", {}
    text = body.get("detail") or body.get("message") or body.get("error")
    if not isinstance(text, str):
        text = f"HTTP {response.status_code}"
    code = str(body.get("code") or body.get("error") or "http_error").lower()
    extra = {
        k: v
        for k, v in body.items()
        if k not in ("detail", "message", "error", "code", "success", "status")
    }
    return code, text, extra


def _suggestion(extra: dict[str, Any], body: Any) -> str | None:
    """For an answer that lists the `allowed` values of a `field` of the body sent: the closest
    valid values to the ones refused."""
    allowed, field = extra.get("allowed"), extra.get("field")
    if not isinstance(allowed, list) or not isinstance(field, str) or not isinstance(body, dict):
        return None
    sent = body.get(field)
    values = sent if isinstance(sent, list) else [sent]
    refused = [str(v) for v in values if v is not None and v not in allowed]
    if not refused:
        return None
    from stellwerk.cli.common import suggest

    return "; ".join(f"{value}: {suggest(value, map(str, allowed))}" for value in refused)


def _wait(seconds: float) -> None:
    time.sleep(seconds)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", "5")))
    except ValueError:
        return 5.0


class Api:
    """A synchronous client of the running server: one command, a few calls."""

    def __init__(self, creds: Credentials | None = None, *, as_json: bool = False) -> None:
        self.as_json = as_json
        try:
            self.creds = creds or credentials()
        except CliError as error:
            report(error, as_json=as_json)
        headers = {"User-Agent": "stellwerk-cli"}
        if self.creds.token:
            headers["Authorization"] = f"Bearer {self.creds.token}"
        import httpx

        self.http = httpx.Client(
            base_url=self.creds.url,
            headers=headers,
            timeout=httpx.Timeout(READ_SECONDS, connect=CONNECT_SECONDS),
            follow_redirects=False,
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def fail(self, message: str, *, code: str = "error", exit_code: int = 1) -> NoReturn:
        raise self.failure(message, code=code, exit_code=exit_code)

    def failure(self, message: str, *, code: str = "error", exit_code: int = 1) -> typer.Exit:
        """Print `message` as this command's error; returns the exit to raise."""
        return shown(CliError(message, code=code, exit_code=exit_code), as_json=self.as_json)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer to a call; a failure reports itself and ends the command."""
        try:
            return self.call(method, path, **kwargs)
        except CliError as error:
            report(error, as_json=self.as_json)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like `request`, but raising `CliError` for the caller to handle."""
        response = self._send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise CliError(
                f"{self.creds.url} answered {method} {path} with something other than JSON: "
                "is STELLWERK_URL the Stellwerk API?",
                code="not_stellwerk",
            ) from error

    def content(self, method: str, path: str, **kwargs: Any) -> bytes:
        """The body of a non-JSON answer (a QR code); a failure ends the command."""
        try:
            return self._send(method, path, **kwargs).content
        except CliError as error:
            report(error, as_json=self.as_json)

    def download(self, path: str, output: IO[bytes], **kwargs: Any) -> None:
        """Stream a download (a CSV export) into `output`; a failure ends the command."""
        try:
            with self._connected():
                params = kwargs.pop("params", None) or {}
                kwargs["params"] = {k: v for k, v in params.items() if v is not None}
                with self.http.stream("GET", path, **kwargs) as response:
                    if response.status_code >= 400:
                        response.read()
                        self._check(response, None)
                    for chunk in response.iter_bytes():
                        output.write(chunk)
        except CliError as error:
            report(error, as_json=self.as_json)

    @contextmanager
    def _connected(self) -> Iterator[None]:
        """Connection failures as one line each."""
        import httpx

        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise CliError(
                f"Stellwerk is not reachable at {self.creds.url}: start it with "
                "`stellwerk serve` or set STELLWERK_URL",
                code="unreachable",
                exit_code=UNREACHABLE,
            ) from error
        except httpx.TimeoutException as error:
            raise CliError(
                f"Stellwerk at {self.creds.url} did not answer in time",
                code="timeout",
                exit_code=UNREACHABLE,
            ) from error
        except httpx.HTTPError as error:
            raise CliError(
                f"Stellwerk at {self.creds.url} broke off the connection ({error})",
                code="unreachable",
                exit_code=UNREACHABLE,
            ) from error

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = kwargs.pop("params", None)
        if params is not None:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        for _ in range(RATE_LIMIT_WAITS):
            with self._connected():
                response = self.http.request(method, path, **kwargs)
            if response.status_code != 429:
                break
            # The token's rate limit: nothing was done; wait as long as the server says.
            _wait(min(_retry_after(response), MAX_WAIT_SECONDS))
        self._check(response, kwargs.get("json"))
        return response

    def _check(self, response: httpx.Response, sent: Any) -> None:
        if response.status_code == 401:
            _, text, _ = _message(response)
            hint = (
                "run `stellwerk login` or set STELLWERK_TOKEN"
                if not self.creds.token
                else "log in again with `stellwerk login`"
            )
            what = "You are not logged in" if not self.creds.token else text
            raise CliError(f"{what}: {hint}", code="unauthorized")
        if response.status_code >= 400:
            code, text, extra = _message(response)
            close = _suggestion(extra, sent)
            raise CliError(
                f"{text}; {close}" if close else text,
                code=code,
                status=response.status_code,
                **extra,
            )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def items(
        self, path: str, params: dict[str, Any] | None = None, *, max_pages: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged listing (`{"items": [...], "pages": n}`), page by page."""
        for page in range(1, max_pages + 1):
            listed = self.get(path, params={**(params or {}), "page": page, "per_page": 100})
            yield from listed["items"]
            if page >= listed["pages"]:
                return

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)
