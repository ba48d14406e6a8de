"""Who may use DNS: `read:dns`/`write:dns` for records of the zones the caller's role reaches
(see `DnsZoneRepository.readable`); adding and removing zones is for the company's people."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject
from stellwerk.identity.role import Role
from stellwerk.registrar.auth import DnsReader, DnsWriter

ZoneManager = Annotated[AuthSubject, Depends(Authenticator(scope="write:dns", min_role=Role.STAFF))]

__all__ = ["DnsReader", "DnsWriter", "ZoneManager"]
