"""A V2 license server database in PostgreSQL, with the tables and fields its API names."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from tests.conftest import PG_HOST, PG_PORT

API_KEY = "AF-2025-" + "Qx7" * 10 + "Zz"
LICENSE_KEY = "ABCD-EFGH-JKLM-NPQR"
HARDWARE = "hw-0001"
SESSION_TOKEN = "550e8400-e29b-41d4-a716-446655440000"

SCHEMA = """
CREATE TABLE system_api_key (id serial PRIMARY KEY, api_key text NOT NULL,
  created_at timestamp DEFAULT now());
CREATE TABLE client_configs (id serial PRIMARY KEY, client_name text UNIQUE NOT NULL,
  current_version text, heartbeat_interval int, session_timeout int);
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE licenses (id serial PRIMARY KEY, license_key text UNIQUE NOT NULL,
  customer_id int REFERENCES customers(id), license_type text, valid_from date,
  valid_until date, max_activations int, max_users int, is_active boolean);
CREATE TABLE activations (id serial PRIMARY KEY, license_id int REFERENCES licenses(id),
  hardware_hash text, machine_name text, app_version text, activated_at timestamp,
  last_heartbeat timestamp, is_active boolean);
CREATE TABLE sessions (id serial PRIMARY KEY, license_id int REFERENCES licenses(id),
  session_token text, hardware_hash text, machine_id text, version text,
  started_at timestamp, last_heartbeat timestamp, ended_at timestamp);
CREATE TABLE versions (id serial PRIMARY KEY, version text, release_date date,
  download_url text, release_notes text);
CREATE TABLE resources (id serial PRIMARY KEY, type text, identifier text, status text,
  license_id int REFERENCES licenses(id), allocated_at timestamp);
CREATE TABLE lead_institutions (id serial PRIMARY KEY, name text);
CREATE TABLE lead_contacts (id serial PRIMARY KEY, institution_id int, first_name text,
  last_name text, position text);
CREATE TABLE lead_contact_details (id serial PRIMARY KEY, contact_id int, type text,
  value text, label text);
CREATE TABLE lead_notes (id serial PRIMARY KEY, note_id int, contact_id int, content text,
  version int, created_at timestamp, created_by text);
"""

DATA = f"""
INSERT INTO system_api_key (api_key) VALUES ('{API_KEY}');
INSERT INTO client_configs (client_name, current_version, heartbeat_interval, session_timeout)
  VALUES ('Account Forger', '1.2.0', 45, 120);
INSERT INTO customers (name, email) VALUES ('ACME Corp', 'admin@acme.example'),
  ('Globex', NULL);
INSERT INTO licenses (license_key, customer_id, license_type, valid_from, valid_until,
  max_activations, max_users, is_active) VALUES
  ('{LICENSE_KEY}', 1, 'perpetual', '2025-01-01', NULL, 3, 10, true),
  ('WXYZ-2345-6789-ABCD', 2, 'time', '2025-01-01', '2099-12-31', 1, 1, true),
  ('not-a-key', 2, 'time', '2025-01-01', NULL, 1, 1, true);
INSERT INTO activations (license_id, hardware_hash, machine_name, app_version, activated_at,
  last_heartbeat, is_active) VALUES
  (1, '{HARDWARE}', 'DESKTOP-ABC123', '1.0.0', now(), now(), true);
INSERT INTO sessions (license_id, session_token, hardware_hash, machine_id, version,
  started_at, last_heartbeat, ended_at) VALUES
  (1, '{SESSION_TOKEN}', '{HARDWARE}', 'DESKTOP-ABC123', '1.0.0', now(), now(), NULL),
  (1, 'ended-token', '{HARDWARE}', 'DESKTOP-ABC123', '1.0.0', now(), now(), now());
INSERT INTO versions (version, release_date, download_url, release_notes) VALUES
  ('1.2.0', '2025-06-20', 'https://example.com/download/v1.2.0', 'Fixes');
INSERT INTO resources (type, identifier, status, license_id, allocated_at) VALUES
  ('server', 'SRV-001', 'allocated', 1, now()), ('domain', 'example.net', 'available', NULL, NULL);
INSERT INTO lead_institutions (name) VALUES ('Tech University');
INSERT INTO lead_contacts (institution_id, first_name, last_name, position) VALUES
  (1, 'John', 'Doe', 'IT Manager');
INSERT INTO lead_contact_details (contact_id, type, value, label) VALUES
  (1, 'email', 'john.doe@example.com', 'Work');
INSERT INTO lead_notes (note_id, contact_id, content, version, created_at, created_by) VALUES
  (1, 1, 'Initial contact', 1, now(), 'admin'), (1, 1, 'Initial contact, called back', 2, now(),
  'admin');
"""


@contextmanager
def v2_database() -> Iterator[str]:
    """A fresh V2 database; yields its URL."""
    name = f"v2_source_{os.getpid()}"
    admin = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(SCHEMA)
            connection.execute(DATA)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
