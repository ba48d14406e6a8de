from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stellwerk.cli.main import app

runner = CliRunner()


def test_customer_license_keygen_and_public_key(tmp_data_dir: Path) -> None:
    data = ["--data-dir", str(tmp_data_dir)]
    assert "Customers, licenses and keys" in runner.invoke(app, ["license", "--help"]).output
    customer = runner.invoke(
        app, ["license", "customer-create", "--name", "ACME Corp", "--json", *data]
    )
    assert customer.exit_code == 0, customer.output
    customer_id = json.loads(customer.stdout)["id"]
    created = runner.invoke(
        app,
        [
            "license",
            "create",
            "--customer-id",
            str(customer_id),
            "--max-activations",
            "5",
            "--json",
            *data,
        ],
    )
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)["license_key"]
    listed = json.loads(runner.invoke(app, ["license", "list", "--json", *data]).stdout)
    assert listed["total"] == 1
    assert listed["items"][0]["license_key"] == key
    assert listed["items"][0]["customer_name"] == "ACME Corp"
    bad = runner.invoke(app, ["license", "create", "--customer-id", "999", *data])
    assert bad.exit_code == 1
    keygen = json.loads(runner.invoke(app, ["license", "keygen", "--json", *data]).stdout)
    assert len(keygen["license_key"]) == 19
    pem = runner.invoke(app, ["license", "public-key", *data]).stdout
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
