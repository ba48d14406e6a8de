"""One search box over customers, licenses, devices and leads, each kind only when the
caller may read it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.customer.repository import CustomerRepository
from stellwerk.lead.repository import LeadRepository
from stellwerk.license.repository import ActivationRepository, LicenseRepository
from stellwerk.search.schemas import SearchResult

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


search = SearchService()
