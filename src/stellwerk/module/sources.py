"""Reading repositories: the index (cached) and the archives (sha256-checked).

A `file` repository is a directory holding `index.json` and the archives it names; an `https`
repository serves the same index as JSON, with archive URLs relative to the index. Every URL goes
through the outbound guard (https only unless allowed; no link-local or metadata addresses; no
loopback or private ones unless the repository allows them), which connects only to the address
it checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from pydantic import ValidationError

from stellwerk.exceptions import BadRequest, ServiceUnavailable
from stellwerk.kit.netguard import UnsafeUrl, guarded_get
from stellwerk.models import ModuleRepository
from stellwerk.module.files import sha256_file
from stellwerk.module.manifest import INDEX_FILE, IndexVersion, RepositoryIndex, describe_validation

BUILTIN_URL = "builtin"
BUILTIN_DIR = Path(__file__).parent / "builtin"
MAX_INDEX_BYTES = 5 * 1024 * 1024


class RepositoryUnavailable(ServiceUnavailable):
    default_code = "repository_unavailable"


class ChecksumMismatch(BadRequest):
    default_code = "checksum_mismatch"


@dataclass(frozen=True)
class RepositorySource:
    """The plain values needed to read a repository (safe to pass into workflow steps)."""

    id: str
    type: str
    url: str
    allow_http: bool = False
    allow_private: bool = False
    ca_pem: str | None = None

    @classmethod
    def of(cls, row: ModuleRepository) -> RepositorySource:
        return cls(
            id=row.id,
            type=row.type,
            url=row.url,
            allow_http=row.allow_http,
            allow_private=row.allow_private,
            ca_pem=row.ca_pem,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "url": self.url,
            "allow_http": self.allow_http,
            "allow_private": self.allow_private,
            "ca_pem": self.ca_pem,
        }

    @property
    def directory(self) -> Path:
        return BUILTIN_DIR if self.url == BUILTIN_URL else Path(self.url)

    @property
    def index_url(self) -> str:
        if self.url.endswith(".json"):
            return self.url
        return self.url.rstrip("/") + "/" + INDEX_FILE

    @property
    def cache_key(self) -> tuple[str, str, str, bool, bool]:
        return (self.id, self.type, self.url, self.allow_http, self.allow_private)


def parse_index(raw: bytes, origin: str) -> RepositoryIndex:
    try:
        return RepositoryIndex.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as error:
        detail = describe_validation(error) if isinstance(error, ValidationError) else str(error)
        raise RepositoryUnavailable(f"The index of {origin} is invalid: {detail}") from error


def _file_path(source: RepositorySource, relative: str) -> Path:
    directory = source.directory.resolve()
    path = (directory / relative).resolve()
    if directory not in path.parents:
        raise RepositoryUnavailable(f"{relative} is outside the repository {source.id}")
    return path


async def _read_index(source: RepositorySource) -> RepositoryIndex:
    if source.type == "file":
        path = _file_path(source, INDEX_FILE)
        try:
            raw = await asyncio.to_thread(path.read_bytes)
        except OSError as error:
            raise RepositoryUnavailable(
                f"Cannot read the index of repository {source.id}: {error.strerror}"
            ) from error
        return parse_index(raw, source.id)
    try:
        body = await guarded_get(
            source.index_url,
            allow_http=source.allow_http,
            allow_private=source.allow_private,
            ca_pem=source.ca_pem,
            max_bytes=MAX_INDEX_BYTES,
        )
    except UnsafeUrl as error:
        raise RepositoryUnavailable(f"Repository {source.id}: {error}") from error
    except Exception as error:  # network and TLS errors of every kind
        raise RepositoryUnavailable(f"Repository {source.id} is unreachable: {error}") from error
    return parse_index(body.content, source.id)


class IndexCache:
    """Indexes by repository for a while, so listing modules does not refetch every time."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str, bool, bool], tuple[float, RepositoryIndex]] = {}

    async def get(
        self, source: RepositorySource, *, ttl: float, refresh: bool = False
    ) -> RepositoryIndex:
        now = time.monotonic()
        cached = self._entries.get(source.cache_key)
        if cached is not None and not refresh and cached[0] > now:
            return cached[1]
        index = await _read_index(source)
        self._entries[source.cache_key] = (now + ttl, index)
        return index

    def forget(self, repository_id: str) -> None:
        for key in [k for k in self._entries if k[0] == repository_id]:
            del self._entries[key]


index_cache = IndexCache()


async def fetch_archive(
    source: RepositorySource, version: IndexVersion, destination: Path, *, max_bytes: int
) -> None:
    """Copy or download the archive of `version` to `destination` and check its sha256."""
    if source.type == "file":
        path = _file_path(source, version.archive)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise RepositoryUnavailable(
                f"Archive {version.archive} is missing in repository {source.id}"
            ) from error
        if size > max_bytes:
            raise RepositoryUnavailable(f"Archive {version.archive} is larger than allowed")
        digest = await asyncio.to_thread(sha256_file, path)
        if digest != version.sha256:
            raise ChecksumMismatch(f"The sha256 of {version.archive} does not match the index")
        await asyncio.to_thread(destination.write_bytes, await asyncio.to_thread(path.read_bytes))
    else:
        url = urljoin(source.index_url, version.archive)
        try:
            body = await guarded_get(
                url,
                allow_http=source.allow_http,
                allow_private=source.allow_private,
                ca_pem=source.ca_pem,
                max_bytes=max_bytes,
            )
        except UnsafeUrl as error:
            raise RepositoryUnavailable(f"Repository {source.id}: {error}") from error
        except Exception as error:
            raise RepositoryUnavailable(f"Cannot download {url}: {error}") from error
        if hashlib.sha256(body.content).hexdigest() != version.sha256:
            raise ChecksumMismatch(f"The sha256 of {version.archive} does not match the index")
        await asyncio.to_thread(destination.write_bytes, body.content)
    # Checked again on disk: what gets unpacked is exactly what was verified.
    if await asyncio.to_thread(sha256_file, destination) != version.sha256:
        raise ChecksumMismatch(f"The sha256 of {version.archive} does not match the index")
