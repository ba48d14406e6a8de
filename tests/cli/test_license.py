"""`stellwerk license` through the server's API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tests.clirun import cli_for


async def test_customer_license_keygen_and_public_key(app: FastAPI, tmp_path: Path) -> None:
    async with cli_for(app, tmp_path) as cli:
        assert "Customers, licenses and keys" in (await cli("license", "--help")).output
        customer = await cli.json("license", "customer-create", "--name", "ACME Corp")
        customer_id = customer["id"]
        listed_customers = await cli.json("license", "customers", "--search", "ACME")
        assert [c["name"] for c in listed_customers["items"]] == ["ACME Corp"]
        created = await cli.json(
            "license", "create", "--customer-id", str(customer_id), "--max-activations", "5"
        )
        key = created["license_key"]
        listed = await cli.json("license", "list")
        assert listed["total"] == 1
        assert listed["items"][0]["license_key"] == key
        assert listed["items"][0]["customer_name"] == "ACME Corp"
        bad = await cli("license", "create", "--customer-id", "999")
        assert bad.exit_code == 1
        wrong_type = await cli("license", "create", "--customer-id", "1", "--type", "trail")
        assert "did you mean trial?" in wrong_type.output
        keygen = await cli.json("license", "keygen")
        assert len(keygen["license_key"]) == 19
        shown = await cli("license", "public-key")
        pem = shown.stdout
        assert shown.exit_code == 0, shown.output
        assert pem.startswith("-----BEGIN PUBLIC KEY-----")
