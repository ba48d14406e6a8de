"""License server factories: through the services, like the admin panel would."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from stellwerk.audit.actor import Actor
from stellwerk.customer.service import customer as customer_service
from stellwerk.license import service as license_service
from stellwerk.models import ClientConfig, Customer, License, Release
from stellwerk.runtime import Runtime

_counter = itertools.count(1)


async def create_customer(runtime: Runtime, *, name: str | None = None, **options: Any) -> Customer:
    number = next(_counter)
    async with runtime.database.session() as session:
        return await customer_service.create(
            session,
            Actor.system(),
            name=name or f"Customer {number}",
            email=options.pop("email", f"customer{number}@example.com"),
            **options,
        )


async def create_license(
    runtime: Runtime, *, customer: Customer | None = None, **options: Any
) -> License:
    customer = customer or await create_customer(runtime)
    async with runtime.database.session() as session:
        return await license_service.license.create(
            session, Actor.system(), customer_id=customer.id, **options
        )


async def create_release(runtime: Runtime, version: str, **options: Any) -> Release:
    options.setdefault("release_date", dt.date(2026, 6, 20))
    options.setdefault("download_url", f"https://example.com/download/v{version}")
    async with runtime.database.session() as session:
        return await license_service.release.create(
            session, Actor.system(), version=version, **options
        )


async def ensure_default_client(runtime: Runtime) -> None:
    async with runtime.database.session() as session:
        await license_service.client_config.ensure(
            session, name=runtime.settings.license_default_client
        )


async def create_client_config(runtime: Runtime, name: str, **options: Any) -> ClientConfig:
    async with runtime.database.session() as session:
        return await license_service.client_config.create(
            session, Actor.system(), name=name, **options
        )
