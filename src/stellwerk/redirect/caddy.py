"""A Caddy configuration for production: on-demand TLS for active redirect domains only.

Caddy terminates TLS and asks Stellwerk (`/api/redirect/tls-ask?domain=`) before it requests a
certificate, so only verified (`active`) domains get one; everything is proxied to the data plane,
which must then trust Caddy's address (`STELLWERK_TRUSTED_PROXIES=127.0.0.1`).
"""

from __future__ import annotations


def caddyfile(
    *,
    ask_url: str,
    upstream: str,
    email: str | None = None,
    http_port: int | None = None,
    https_port: int | None = None,
    bind: str | None = None,
    acme_ca: str | None = None,
    acme_ca_root: str | None = None,
    storage_dir: str | None = None,
    admin: str = "off",
) -> str:
    globals_ = [f"\tadmin {admin}"]
    if email:
        globals_.append(f"\temail {email}")
    if http_port:
        globals_.append(f"\thttp_port {http_port}")
    if https_port:
        globals_.append(f"\thttps_port {https_port}")
    if acme_ca:
        globals_.append(f"\tacme_ca {acme_ca}")
    if acme_ca_root:
        globals_.append(f"\tacme_ca_root {acme_ca_root}")
    if storage_dir:
        globals_.append(f"\tstorage file_system {storage_dir}")
    # Rate-limits certificate requests, on top of the ask (Caddy 2.6 syntax).
    globals_.append(f"\ton_demand_tls {{\n\t\task {ask_url}\n\t\tinterval 2m\n\t\tburst 10\n\t}}")
    bind_line = f"\tbind {bind}\n" if bind else ""
    proxy = f"\treverse_proxy {upstream}\n"
    return (
        "{\n" + "\n".join(globals_) + "\n}\n\n"
        "# HTTPS for every active redirect domain, certificates obtained on first visit.\n"
        "https:// {\n" + bind_line + "\ttls {\n\t\ton_demand\n\t}\n" + proxy + "}\n\n"
        "# Plain HTTP is answered directly (one hop to the target), ACME challenges included.\n"
        "http:// {\n" + bind_line + proxy + "}\n"
    )
