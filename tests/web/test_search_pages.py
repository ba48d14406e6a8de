"""The search box: what each role finds, and that every result opens its page."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest

from stellwerk.models import (
    LeadInstitution,
    Project,
    RedirectDomain,
    RegistrarDomain,
    User,
    VpsInstance,
)
from stellwerk.runtime import Runtime
from tests.factories import create_staff, create_user
from tests.license.factories import create_customer, create_license
from tests.web.test_router import log_in


@dataclass
class World:
    word: str
    carol: User
    dave: User
    carol_server: str
    dave_server: str
    license_id: int
    customer_id: int
    lead_id: int


async def _world(runtime: Runtime) -> World:
    """Carol and Dave (customers) own things whose names share one word; the company has a
    customer with a license and a lead with it too."""
    word = f"zeta{uuid.uuid4().hex[:6]}"
    carol = await create_user(runtime, username=f"carol-{word}")
    dave = await create_user(runtime, username=f"dave-{word}")
    async with runtime.database.session() as session:
        mine = VpsInstance(
            user_id=carol.id,
            label=f"{word}-web",
            status="running",
            ip_address="198.51.100.7",
            plan_specs={},
            options={},
        )
        theirs = VpsInstance(
            user_id=dave.id, label=f"{word}-db", status="off", plan_specs={}, options={}
        )
        gone = VpsInstance(
            user_id=carol.id, label=f"{word}-old", status="deleted", plan_specs={}, options={}
        )
        session.add_all(
            [
                mine,
                theirs,
                gone,
                Project(
                    name=f"{word}-shop",
                    domain=f"{word}-shop.de",
                    plugins=[],
                    dns_records=[],
                    owner_user_id=carol.id,
                    state="active",
                ),
                RegistrarDomain(
                    name=f"{word}-store.de",
                    provider="inwx",
                    status="active",
                    origin="register",
                    owner_user_id=carol.id,
                ),
                RedirectDomain(
                    owner_id=dave.id,
                    domain=f"{word}-old.de",
                    target_url="https://example.org",
                ),
            ]
        )
        lead = LeadInstitution(name=f"{word} University", institution_type="university")
        session.add(lead)
        await session.flush()
        servers = (str(mine.id), str(theirs.id))
        lead_id = lead.id
    customer = await create_customer(runtime, name=f"{word} GmbH")
    license = await create_license(runtime, customer=customer)
    return World(word, carol, dave, *servers, license.id, customer.id, lead_id)


def _links(html: str) -> set[str]:
    return set(re.findall(r'<a href="(/[^"]+)"', html))


async def test_a_customer_finds_only_their_own(client: httpx.AsyncClient, runtime: Runtime) -> None:
    world = await _world(runtime)
    await log_in(client, world.carol.username)
    answer = await client.get("/ui/search/suggest", params={"q": world.word.upper()})
    assert answer.status_code == 200
    links = _links(answer.text)
    assert f"/ui/servers/{world.carol_server}" in links
    assert f"/ui/servers/{world.dave_server}" not in links
    assert f"{world.word}-old" not in answer.text  # Dave's redirect, Carol's deleted server
    assert f"{world.word}-shop.de" in answer.text
    assert f"/ui/domains/{world.word}-store.de" in links
    # The license panel is the company's: nothing of it for customers.
    assert not any(link.startswith(("/ui/licenses", "/ui/customers", "/leads")) for link in links)
    # Every result opens, for the one who found it.
    for link in links - {f"/ui/search?q={world.word.upper()}"}:
        assert (await client.get(link)).status_code == 200, link
    # An address finds a server too.
    by_address = await client.get("/ui/search/suggest", params={"q": "198.51.100.7"})
    assert f"/ui/servers/{world.carol_server}" in _links(by_address.text)


async def test_staff_find_everyones_things_and_the_license_panel(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    world = await _world(runtime)
    staff = await create_staff(runtime)
    await log_in(client, staff.username)
    page = await client.get("/ui/search", params={"q": world.word})
    assert page.status_code == 200
    links = _links(page.text)
    expected = {
        f"/ui/servers/{world.carol_server}",
        f"/ui/servers/{world.dave_server}",
        f"/ui/licenses/{world.license_id}",
        f"/ui/customers/{world.customer_id}",
        f"/leads/edit/{world.lead_id}",
    }
    assert expected <= links
    assert re.search(r"Redirect domains <span class=\"count\">1", page.text)
    for link in expected:
        assert (await client.get(link)).status_code == 200, link


async def test_wildcards_are_plain_characters(client: httpx.AsyncClient, runtime: Runtime) -> None:
    world = await _world(runtime)
    await log_in(client, world.carol.username)
    for query in ("%", "_", "\\"):
        answer = await client.get("/ui/search/suggest", params={"q": query})
        assert answer.status_code == 200
        assert world.word not in answer.text, query


@pytest.mark.parametrize("query", ["", "   "])
async def test_an_empty_search_asks_what_to_look_for(
    client: httpx.AsyncClient, runtime: Runtime, query: str
) -> None:
    user = await create_user(runtime)
    await log_in(client, user.username)
    suggest = await client.get("/ui/search/suggest", params={"q": query})
    assert suggest.status_code == 200
    assert suggest.text.strip() == ""
    page = await client.get("/ui/search", params={"q": query})
    assert "Type what you are looking for" in page.text
    # The search box is on every page, and tells how to reach it.
    assert 'aria-keyshortcuts="/"' in page.text
