"""Who may use the module manager.

Reading (repositories, catalog, instances, operations) needs `read:modules`; installing,
updating and removing modules needs `write:modules`. Changing where modules come from
(repositories, checksum pins) needs an admin credential: it decides what code runs on the host.
Module operations are shown as every operation is: to the company (staff and admins) all, to
others only their own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

modules_reader = Authenticator(scope="read:modules")

ModulesReader = Annotated[AuthSubject, Depends(modules_reader)]
ModulesWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:modules"))]
ModulesAdmin = Annotated[AuthSubject, Depends(Authenticator(admin=True))]


def visible_owner(subject: AuthSubject) -> int | None:
    """Whose module operations the caller sees: None for everyone's (the company), else their
    own (the same rule as `OperationRepository.readable`)."""
    return subject.principal.owner_filter


def answerable_owner(subject: AuthSubject) -> int | None:
    """Whose waiting module operations the caller may answer: their own; every one for admins
    (the same rule as cancelling, `OperationRepository.cancellable`)."""
    return None if subject.principal.is_admin else subject.user.id
