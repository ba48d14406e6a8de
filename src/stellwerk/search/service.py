"""One search box over customers, licenses, devices and leads, each kind only when the
caller may read it; and, for the web UI's search box, over the servers, projects, registrar
domains and redirect domains the caller may see, each through its repository's owner scoping."""

from __future__ import annotations

from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.customer.repository import CustomerRepository
from stellwerk.identity.principal import Principal
from stellwerk.lead.repository import LeadRepository
from stellwerk.license.repository import ActivationRepository, LicenseRepository
from stellwerk.project.repository import ProjectRepository
from stellwerk.redirect.repository import DomainRepository
from stellwerk.registrar.repository import RegistrarRepository
from stellwerk.search.schemas import Found, FoundGroup, FoundType, SearchResult
from stellwerk.server.repository import InstanceRepository

# Which scope each kind of result needs.
SCOPES = {
    "customer": "read:customers",
    "license": "read:licenses",
    "device": "read:licenses",
    "lead": "read:leads",
}


class SearchService:
    async def search(
        self, session: AsyncSession, query: str, *, kinds: list[str], limit: int
    ) -> tuple[list[SearchResult], int]:
        results: list[SearchResult] = []
        total = 0
        if "customer" in kinds:
            customers = CustomerRepository(session)
            rows, count = await customers.search(query=query, offset=0, limit=limit)
            total += count
            results += [
                SearchResult(
                    type="customer",
                    id=c.id,
                    title=c.name,
                    subtitle=c.email or "",
                    url=f"/customer/edit/{c.id}",
                )
                for c in rows
            ]
        if "license" in kinds:
            licenses = LicenseRepository(session)
            total += await licenses.count_search(query)
            results += [
                SearchResult(
                    type="license",
                    id=lic.id,
                    title=lic.license_key,
                    subtitle=f"{lic.customer.name} - {'Active' if lic.is_active else 'Inactive'}",
                    url=f"/license/edit/{lic.id}",
                )
                for lic in await licenses.search(query, limit=limit)
            ]
        if "device" in kinds:
            devices = ActivationRepository(session)
            total += await devices.count_search(query)
            results += [
                SearchResult(
                    type="device",
                    id=device.id,
                    title=device.machine_name or device.hardware_hash,
                    subtitle=f"{license_key} - {'Active' if device.is_active else 'Inactive'}",
                    url=f"/license/edit/{device.license_id}#device-{device.id}",
                )
                for device, license_key in await devices.search(query, limit=limit)
            ]
        if "lead" in kinds:
            leads = LeadRepository(session)
            total += await leads.count_search_institutions(query)
            results += [
                SearchResult(
                    type="lead",
                    id=lead.id,
                    title=lead.name,
                    subtitle=f"{lead.institution_type} - {lead.status}",
                    url=f"/leads/edit/{lead.id}",
                )
                for lead in await leads.search_institutions(query, limit=limit)
            ]
        return results[:limit], total

    async def find(
        self,
        session: AsyncSession,
        principal: Principal,
        query: str,
        *,
        kinds: list[str],
        limit: int,
    ) -> list[FoundGroup]:
        """What the web UI's search box shows: per kind (in the order of `FIND_SCOPES`), the
        first `limit` matches `principal` may see, each linking to its page. The caller
        decides `kinds` from its scopes; the license panel's kinds are the company's only."""
        groups: list[FoundGroup] = []
        for kind in FIND_SCOPES:
            if kind not in kinds or (kind in SCOPES and not principal.is_company):
                continue
            found, total = await self._find(session, principal, kind, query, limit=limit)
            if total:
                groups.append(
                    FoundGroup(
                        type=cast(FoundType, kind), label=LABELS[kind], total=total, results=found
                    )
                )
        return groups

    async def _find(
        self, session: AsyncSession, principal: Principal, kind: str, query: str, *, limit: int
    ) -> tuple[list[Found], int]:
        if kind == "server":
            servers, total = await InstanceRepository(session).search(principal, query, limit=limit)
            return [
                Found(
                    type="server",
                    id=str(s.id),
                    title=s.label,
                    subtitle=" · ".join(
                        part for part in (s.status, s.ip_address, s.provider_type) if part
                    ),
                    url=f"/ui/servers/{s.id}",
                )
                for s in servers
            ], total
        if kind == "project":
            projects, total = await ProjectRepository(session).search(principal, query, limit=limit)
            return [
                Found(
                    type="project",
                    id=str(p.id),
                    title=p.name,
                    subtitle=f"{p.domain} · {p.state}",
                    url=f"/ui/projects/{p.id}",
                )
                for p in projects
            ], total
        if kind == "domain":
            domains, total = await RegistrarRepository(session).search_domains(
                principal, query, limit=limit
            )
            return [
                Found(
                    type="domain",
                    id=str(d.id),
                    title=d.name,
                    subtitle=f"{d.status} · {d.provider}",
                    url=f"/ui/domains/{d.name}",
                )
                for d in domains
            ], total
        if kind == "redirect":
            redirects, total = await DomainRepository(session).search(
                query, owner_id=principal.owner_filter, limit=limit
            )
            return [
                Found(
                    type="redirect",
                    id=str(r.id),
                    title=r.domain,
                    subtitle=f"→ {r.target_url} · {r.status}",
                    url=f"/ui/redirects/{r.id}",
                )
                for r in redirects
            ], total
        if kind == "customer":
            customers, total = await CustomerRepository(session).search(
                query=query, offset=0, limit=limit
            )
            return [
                Found(
                    type="customer",
                    id=str(c.id),
                    title=c.name,
                    subtitle=c.email or "",
                    url=f"/ui/customers/{c.id}",
                )
                for c in customers
            ], total
        if kind == "license":
            licenses = LicenseRepository(session)
            return [
                Found(
                    type="license",
                    id=str(lic.id),
                    title=lic.license_key,
                    subtitle=f"{lic.customer.name} · {'active' if lic.is_active else 'inactive'}",
                    url=f"/ui/licenses/{lic.id}",
                )
                for lic in await licenses.search(query, limit=limit)
            ], await licenses.count_search(query)
        if kind == "device":
            devices = ActivationRepository(session)
            return [
                Found(
                    type="device",
                    id=str(device.id),
                    title=device.machine_name or device.hardware_hash,
                    subtitle=f"{key} · {'active' if device.is_active else 'inactive'}",
                    url=f"/ui/licenses/{device.license_id}",
                )
                for device, key in await devices.search(query, limit=limit)
            ], await devices.count_search(query)
        leads = LeadRepository(session)
        return [
            Found(
                type="lead",
                id=str(lead.id),
                title=lead.name,
                subtitle=f"{lead.institution_type} · {lead.status}",
                url=f"/leads/edit/{lead.id}",
            )
            for lead in await leads.search_institutions(query, limit=limit)
        ], await leads.count_search_institutions(query)


# What the web UI's search box looks through, in the order it shows them, and the scope each
# kind needs (the license panel's kinds as in SCOPES).
FIND_SCOPES = {
    "server": "read:servers",
    "project": "read:projects",
    "domain": "read:dns",
    "redirect": "read:domains",
    **SCOPES,
}
LABELS = {
    "server": "Servers",
    "project": "Projects",
    "domain": "Domains",
    "redirect": "Redirect domains",
    "customer": "Customers",
    "license": "Licenses",
    "device": "Devices",
    "lead": "Leads",
}


search = SearchService()
