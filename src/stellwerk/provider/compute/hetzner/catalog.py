"""What Hetzner Cloud sells, for the sandboxes (the Hetzner sandbox and Coolify's
`/hetzner/*` catalog): locations, server types and system images, in the API's shapes.

- Server types are the current lines: cost-optimized CX (cx23-cx53, EU locations only), regular
  performance CPX (cpx12-cpx62), Arm CAX (cax11-cax41, EU only) and dedicated CCX (ccx13-ccx63).
  CX Gen2 and CPX Gen1 (cx22-cx52, cpx11-cpx51) were deprecated on 2025-10-16 and removed after
  2025-12-31 (docs.hetzner.cloud/changelog#2025-10-16-server-types-deprecated; Hetzner's own
  PRs hetznercloud/cli#1211 and apricote/hcloud-upload-image#129 replace them), so they are
  not listed and cannot be ordered: "once [unavailable_after] is reached, the resource will not
  be returned by resource type list endpoint, and the resource can not be used to create new
  resources" (hetzner.json, `deprecation_info`).
- Deprecation is per location (`locations[].deprecation`; the top-level `deprecated` flag is
  itself deprecated, hetzner.json `server_type`). The sandbox starts with none; tests announce
  one through `/__sandbox__/catalog`.
- Images exist per architecture under the same name (x86 and arm `ubuntu-24.04`); a server's
  image must match its type's architecture.
- Ids are the sandbox's own; prices are the list prices per month (net, EUR) rounded, and the
  hourly price is the monthly one over 720 hours.
"""

from __future__ import annotations

from typing import Any

CREATED = "2024-01-01T00:00:00Z"
INCLUDED_TRAFFIC = {"eu-central": 20 * 1024**4, "us-east": 1024**4, "us-west": 1024**4}

LOCATIONS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "fsn1",
        "description": "Falkenstein DC Park 1",
        "country": "DE",
        "city": "Falkenstein",
        "latitude": 50.47612,
        "longitude": 12.370071,
        "network_zone": "eu-central",
    },
    {
        "id": 2,
        "name": "nbg1",
        "description": "Nuremberg DC Park 1",
        "country": "DE",
        "city": "Nuremberg",
        "latitude": 49.452102,
        "longitude": 11.076665,
        "network_zone": "eu-central",
    },
    {
        "id": 3,
        "name": "hel1",
        "description": "Helsinki DC Park 1",
        "country": "FI",
        "city": "Helsinki",
        "latitude": 60.169855,
        "longitude": 24.938379,
        "network_zone": "eu-central",
    },
    {
        "id": 4,
        "name": "ash",
        "description": "Ashburn, VA",
        "country": "US",
        "city": "Ashburn, VA",
        "latitude": 39.0438,
        "longitude": -77.4874,
        "network_zone": "us-east",
    },
    {
        "id": 5,
        "name": "hil",
        "description": "Hillsboro, OR",
        "country": "US",
        "city": "Hillsboro, OR",
        "latitude": 45.54222,
        "longitude": -122.95161,
        "network_zone": "us-west",
    },
    {
        "id": 6,
        "name": "sin",
        "description": "Singapore",
        "country": "SG",
        "city": "Singapore",
        "latitude": 1.283333,
        "longitude": 103.833333,
        "network_zone": "ap-southeast",
    },
]
EU = ("fsn1", "nbg1", "hel1")
EVERYWHERE = tuple(location["name"] for location in LOCATIONS)


def _amount(net: float) -> dict[str, str]:
    return {"net": f"{net:.10f}", "gross": f"{net * 1.19:.10f}"}


def _server_type(
    type_id: int,
    name: str,
    category: str,
    cores: int,
    memory: float,
    disk: int,
    monthly: float,
    *,
    cpu_type: str = "shared",
    architecture: str = "x86",
    locations: tuple[str, ...] = EVERYWHERE,
) -> dict[str, Any]:
    offered = [loc for loc in LOCATIONS if loc["name"] in locations]
    return {
        "id": type_id,
        "name": name,
        "description": name.upper(),
        "category": category,
        "cores": cores,
        "memory": memory,
        "disk": disk,
        "deprecated": False,
        "deprecation": None,
        "prices": [
            {
                "location": loc["name"],
                "price_hourly": _amount(round(monthly / 720, 4)),
                "price_monthly": _amount(monthly),
                "included_traffic": INCLUDED_TRAFFIC.get(loc["network_zone"], 512 * 1024**3),
                "price_per_tb_traffic": _amount(1.0),
            }
            for loc in offered
        ],
        "storage_type": "local",
        "cpu_type": cpu_type,
        "architecture": architecture,
        # `available`/`recommended` per location: hcloud's ServerTypeLocation (the changelog of
        # 2025-09-24, "per-location server types").
        "locations": [
            {
                "id": loc["id"],
                "name": loc["name"],
                "deprecation": None,
                "available": True,
                "recommended": True,
            }
            for loc in offered
        ],
    }


SERVER_TYPES: list[dict[str, Any]] = [
    _server_type(114, "cx23", "cost_optimized", 2, 4.0, 40, 3.49, locations=EU),
    _server_type(115, "cx33", "cost_optimized", 4, 8.0, 80, 5.49, locations=EU),
    _server_type(116, "cx43", "cost_optimized", 8, 16.0, 160, 9.49, locations=EU),
    _server_type(117, "cx53", "cost_optimized", 16, 32.0, 320, 17.49, locations=EU),
    _server_type(120, "cpx12", "regular_purpose", 1, 2.0, 40, 6.49),
    _server_type(121, "cpx22", "regular_purpose", 2, 4.0, 80, 7.99),
    _server_type(122, "cpx32", "regular_purpose", 4, 8.0, 160, 13.99),
    _server_type(123, "cpx42", "regular_purpose", 8, 16.0, 320, 25.49),
    _server_type(124, "cpx52", "regular_purpose", 12, 24.0, 480, 36.49),
    _server_type(125, "cpx62", "regular_purpose", 16, 32.0, 640, 49.49),
    _server_type(45, "cax11", "cost_optimized", 2, 4.0, 40, 4.49, architecture="arm", locations=EU),
    _server_type(93, "cax21", "cost_optimized", 4, 8.0, 80, 7.99, architecture="arm", locations=EU),
    _server_type(
        94, "cax31", "cost_optimized", 8, 16.0, 160, 15.99, architecture="arm", locations=EU
    ),
    _server_type(
        95, "cax41", "cost_optimized", 16, 32.0, 320, 31.49, architecture="arm", locations=EU
    ),
    _server_type(96, "ccx13", "general_purpose", 2, 8.0, 80, 14.49, cpu_type="dedicated"),
    _server_type(97, "ccx23", "general_purpose", 4, 16.0, 160, 28.49, cpu_type="dedicated"),
    _server_type(98, "ccx33", "general_purpose", 8, 32.0, 240, 56.49, cpu_type="dedicated"),
    _server_type(99, "ccx43", "general_purpose", 16, 64.0, 360, 112.49, cpu_type="dedicated"),
    _server_type(100, "ccx53", "general_purpose", 32, 128.0, 600, 224.49, cpu_type="dedicated"),
    _server_type(101, "ccx63", "general_purpose", 48, 192.0, 960, 336.49, cpu_type="dedicated"),
]


def _image(
    image_id: int, name: str, flavor: str, version: str, description: str, architecture: str
) -> dict[str, Any]:
    return {
        "id": image_id,
        "type": "system",
        "status": "available",
        "name": name,
        "description": description,
        "image_size": None,
        "disk_size": 5,
        "created": CREATED,
        "created_from": None,
        "bound_to": None,
        "os_flavor": flavor,
        "os_version": version,
        "rapid_deploy": True,
        "protection": {"delete": False},
        "deprecated": None,
        "deleted": None,
        "labels": {},
        "architecture": architecture,
    }


# Listed in id order, as the API lists them: an arm image may come before its x86 twin.
IMAGES: list[dict[str, Any]] = [
    _image(67794396, "ubuntu-22.04", "ubuntu", "22.04", "Ubuntu 22.04", "x86"),
    _image(103907373, "ubuntu-22.04", "ubuntu", "22.04", "Ubuntu 22.04", "arm"),
    _image(103908070, "rocky-9", "rocky", "9", "Rocky Linux 9", "x86"),
    _image(114690387, "debian-12", "debian", "12", "Debian 12", "x86"),
    _image(114690389, "debian-12", "debian", "12", "Debian 12", "arm"),
    _image(161547268, "ubuntu-24.04", "ubuntu", "24.04", "Ubuntu 24.04", "arm"),
    _image(161547269, "ubuntu-24.04", "ubuntu", "24.04", "Ubuntu 24.04", "x86"),
    _image(249540920, "debian-13", "debian", "13", "Debian 13", "x86"),
    _image(249540921, "debian-13", "debian", "13", "Debian 13", "arm"),
]


def server_type(ref: str) -> dict[str, Any] | None:
    """A listed server type by name or id."""
    return next((t for t in SERVER_TYPES if ref in (t["name"], str(t["id"]))), None)


def image_for(ref: str, architecture: str) -> dict[str, Any] | None:
    """An image by id, or by name for the server type's architecture (the API picks the
    name's image of the type's architecture)."""
    return next(
        (
            i
            for i in IMAGES
            if ref == str(i["id"]) or (ref == i["name"] and i["architecture"] == architecture)
        ),
        None,
    )
