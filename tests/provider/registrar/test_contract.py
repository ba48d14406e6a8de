"""The `Registrar` contract, run for every registrar adapter against its sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio

from stellwerk.provider.error import CONFLICT, NOT_FOUND, VALIDATION_ERROR, ProviderError
from stellwerk.provider.registrar.base import ContactInput, Registrar
from stellwerk.provider.registrar.inwx.adapter import InwxClient, InwxRegistrar
from stellwerk.provider.registrar.inwx.sandbox import create_app
from stellwerk.provider.sandbox.kit import start_server


@pytest_asyncio.fixture(params=["inwx"])
async def registrar(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Registrar]:
    monkeypatch.setenv("STELLWERK_SANDBOX_INWX_TRANSFER_SECONDS", "0.5")
    sandbox = await start_server(create_app(None), name="inwx")
    adapter = InwxRegistrar(
        InwxClient(username="sandbox-user", password="sandbox-password", api_url=sandbox.url)
    )
    yield adapter
    await adapter.aclose()
    await sandbox.stop()


def test_protocol(registrar: Registrar) -> None:
    assert isinstance(registrar, Registrar)


async def test_check_price_currency_premium(registrar: Registrar) -> None:
    free, taken, premium = await registrar.check(domains=["demo-shop.de", "example.com", "ab.io"])
    assert (free.domain, free.available, free.currency, free.premium) == (
        "demo-shop.de",
        True,
        "EUR",
        False,
    )
    assert free.price is not None
    assert free.price > Decimal(0)
    assert (taken.domain, taken.available) == ("example.com", False)
    assert (premium.available, premium.premium) == (True, True)


async def test_register_once(registrar: Registrar) -> None:
    domain = await registrar.register(domain="demo-shop.de", contact_id="12345")
    assert (domain.domain, domain.status) == ("demo-shop.de", "active")
    info = await registrar.domain_info(domain="demo-shop.de")
    assert (info.status, info.registrant) == ("active", "12345")
    assert [d.domain for d in await registrar.list_domains()] == ["demo-shop.de"]
    (check,) = await registrar.check(domains=["demo-shop.de"])
    assert not check.available
    with pytest.raises(ProviderError) as caught:
        await registrar.register(domain="demo-shop.de", contact_id="12345")
    assert caught.value.code == CONFLICT


async def test_register_with_unknown_contact(registrar: Registrar) -> None:
    with pytest.raises(ProviderError) as caught:
        await registrar.register(domain="nobody.de", contact_id="999")
    assert caught.value.code == NOT_FOUND


async def test_transfer_pending_then_active(registrar: Registrar) -> None:
    started = await registrar.transfer(
        domain="moving.de", auth_code="AUTH-1234", contact_id="12345"
    )
    assert started.status == "pending"
    assert (await registrar.domain_info(domain="moving.de")).status == "pending"
    for _ in range(50):
        if (await registrar.domain_info(domain="moving.de")).status == "active":
            break
        await asyncio.sleep(0.1)
    assert (await registrar.domain_info(domain="moving.de")).status == "active"


async def test_unknown_domain(registrar: Registrar) -> None:
    with pytest.raises(ProviderError) as caught:
        await registrar.domain_info(domain="not-mine.de")
    assert caught.value.code == NOT_FOUND


async def test_contacts(registrar: Registrar) -> None:
    seeded = await registrar.get_contact(contact_id="12345")
    assert seeded.name == "Max Mustermann"
    created = await registrar.create_contact(
        contact=ContactInput(
            type="ORG",
            name="Erika Musterfrau",
            organization="VRS GmbH",
            street="Hauptstraße 2",
            city="Berlin",
            postal_code="10115",
            country_code="de",
            phone="+49.301234567",
            email="ops@vrs.example",
        )
    )
    assert created.id != "12345"
    assert {c.id for c in await registrar.list_contacts()} >= {"12345", created.id}
    with pytest.raises(ProviderError) as caught:
        await registrar.create_contact(
            contact=ContactInput(
                type="PERSON",
                name="Bad",
                street="x",
                city="y",
                postal_code="1",
                country_code="DE",
                phone="+49.1",
                email="not-an-email",
            )
        )
    assert caught.value.code == VALIDATION_ERROR
