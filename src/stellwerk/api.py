"""Every router of the app, mounted in one place."""

from __future__ import annotations

from fastapi import FastAPI

from stellwerk.audit.router import router as audit_router
from stellwerk.customer.router import router as customer_router
from stellwerk.dns.router import router as dns_router
from stellwerk.identity.router import router as identity_router
from stellwerk.lead.pages import router as lead_pages_router
from stellwerk.lead.router import router as lead_router
from stellwerk.license.router import admin_router as license_admin_router
from stellwerk.license.router import client_router as license_client_router
from stellwerk.module.feed_router import router as module_feed_router
from stellwerk.module.frontend_router import router as module_frontend_router
from stellwerk.module.router import router as module_router
from stellwerk.notify.router import router as notify_router
from stellwerk.operation.router import router as operation_router
from stellwerk.project.router import router as project_router
from stellwerk.redirect.router import router as redirect_router
from stellwerk.redirect.router import v1 as redirect_v1_router
from stellwerk.registrar.router import router as registrar_router
from stellwerk.resource.router import router as resource_router
from stellwerk.search.router import router as search_router
from stellwerk.server.router import router as server_router
from stellwerk.system.router import router as system_router
from stellwerk.web.audit import router as web_audit_router
from stellwerk.web.domain import router as web_domain_router
from stellwerk.web.identity import router as web_identity_router
from stellwerk.web.importer import router as web_import_router
from stellwerk.web.license import router as web_license_router
from stellwerk.web.module import router as web_module_router
from stellwerk.web.notify import router as web_notify_router
from stellwerk.web.operation import router as web_operation_router
from stellwerk.web.project import router as web_project_router
from stellwerk.web.redirect import router as web_redirect_router
from stellwerk.web.router import router as web_router
from stellwerk.web.search import router as web_search_router
from stellwerk.web.server import router as web_server_router


def include_routers(app: FastAPI) -> None:
    app.include_router(system_router)
    app.include_router(identity_router)
    app.include_router(audit_router)
    app.include_router(notify_router)
    app.include_router(operation_router)
    app.include_router(registrar_router)
    app.include_router(dns_router)
    app.include_router(project_router)
    app.include_router(module_router)
    app.include_router(module_feed_router)
    app.include_router(server_router)
    app.include_router(license_client_router)
    app.include_router(license_admin_router)
    app.include_router(customer_router)
    app.include_router(resource_router)
    app.include_router(search_router)
    app.include_router(lead_router)
    app.include_router(lead_pages_router)
    app.include_router(redirect_v1_router)
    app.include_router(redirect_router)
    app.include_router(web_router)
    app.include_router(web_identity_router)
    app.include_router(web_operation_router)
    app.include_router(web_audit_router)
    app.include_router(web_notify_router)
    app.include_router(web_import_router)
    app.include_router(web_license_router)
    app.include_router(web_server_router)
    app.include_router(web_project_router)
    app.include_router(web_module_router)
    app.include_router(web_redirect_router)
    app.include_router(web_domain_router)
    app.include_router(web_search_router)
    # Last: module frontends take the paths no route of Stellwerk's own takes.
    app.include_router(module_frontend_router)
