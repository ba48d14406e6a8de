"""A NexRedirect SQLite file, created by the schema NexRedirect itself creates (its `db.ts`),
including the column its own migration adds later (`sunset_config`)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

import bcrypt

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT UNIQUE NOT NULL,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'admin',
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS domain_groups (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  target_url TEXT NOT NULL,
  redirect_code INTEGER NOT NULL DEFAULT 302,
  created_by INTEGER REFERENCES users(id),
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS domains (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain TEXT UNIQUE NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  target_url TEXT,
  group_id INTEGER REFERENCES domain_groups(id) ON DELETE SET NULL,
  redirect_code INTEGER NOT NULL DEFAULT 302,
  preserve_path INTEGER NOT NULL DEFAULT 1,
  include_www INTEGER NOT NULL DEFAULT 1,
  created_by INTEGER REFERENCES users(id),
  created_at INTEGER NOT NULL,
  verified_at INTEGER
);
CREATE INDEX IF NOT EXISTS idx_domains_status ON domains(status);
CREATE TABLE IF NOT EXISTS hits (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  ts INTEGER NOT NULL,
  ip_hash TEXT NOT NULL,
  country TEXT,
  user_agent TEXT,
  referer TEXT,
  path TEXT
);
CREATE INDEX IF NOT EXISTS idx_hits_domain_ts ON hits(domain_id, ts);
CREATE INDEX IF NOT EXISTS idx_hits_ts ON hits(ts);
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  token_hash TEXT UNIQUE NOT NULL,
  scopes TEXT NOT NULL,
  created_by INTEGER REFERENCES users(id),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS update_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  from_version TEXT,
  to_version TEXT,
  ts INTEGER NOT NULL,
  status TEXT NOT NULL,
  log TEXT
);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  user_id INTEGER,
  user_email TEXT,
  action TEXT NOT NULL,
  target_type TEXT,
  target_id TEXT,
  details TEXT
);
CREATE INDEX IF NOT EXISTS idx_audit_ts ON audit_log(ts);
ALTER TABLE domains ADD COLUMN sunset_config TEXT;
"""

PASSWORD = "old-nexredirect-password-1"
TOKEN = "nrx_" + "ab12" * 16
REVOKED_TOKEN = "nrx_" + "cd34" * 16
HITS_PER_DOMAIN = 30
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def build(path: Path) -> Path:
    """Two users, a group, three domains (one sunset, one pending), tokens, settings, hits."""
    now = int(time.time() * 1000)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    db.execute(
        "INSERT INTO users (email, password_hash, role, created_at) VALUES (?, ?, 'admin', ?)",
        ("Ops@Example.com", password_hash.replace("$2b$", "$2a$"), now - 86_400_000),
    )
    db.execute(
        "INSERT INTO users (email, password_hash, role, created_at) VALUES (?, ?, 'viewer', ?)",
        ("viewer@example.com", password_hash, now),
    )
    db.execute(
        "INSERT INTO domain_groups (name, target_url, redirect_code, created_by, created_at) "
        "VALUES ('Brands', 'https://brand.example.org/', 302, 1, ?)",
        (now,),
    )
    sunset = json.dumps({"enabled": True, "title": "We moved", "sunset_date": "2027-01-31"})
    rows = [
        ("old-shop.example", "active", "https://shop.example.org/", None, 301, None),
        ("brand-a.example", "active", None, 1, 302, None),
        ("closing.example", "pending", "https://new.example.org/", None, 302, sunset),
    ]
    for name, status, target, group, code, config in rows:
        db.execute(
            "INSERT INTO domains (domain, status, target_url, group_id, redirect_code, "
            "preserve_path, include_www, created_by, created_at, verified_at, sunset_config) "
            "VALUES (?, ?, ?, ?, ?, 1, 0, 1, ?, ?, ?)",
            (name, status, target, group, code, now, now if status == "active" else None, config),
        )
    for token, revoked, scopes in (
        (TOKEN, None, ["read:domains", "read:analytics", "read:hits"]),
        (REVOKED_TOKEN, now, ["read:domains"]),
    ):
        db.execute(
            "INSERT INTO api_tokens (name, token_hash, scopes, created_by, created_at, "
            "revoked_at) VALUES (?, ?, ?, 1, ?, ?)",
            (
                "deploy script",
                hashlib.sha256(token.encode()).hexdigest(),
                json.dumps(scopes),
                now,
                revoked,
            ),
        )
    db.executemany(
        "INSERT INTO settings (key, value) VALUES (?, ?)",
        [("setup_complete", "true"), ("m_301_to_302", "done"), ("smtp_host", "mail.example")],
    )
    hits = []
    for domain_id in (1, 2):
        for n in range(HITS_PER_DOMAIN):
            ts = now - (n % 3) * 86_400_000 - n * 1000
            ip_hash = hashlib.sha256(f"visitor{n % 7}".encode()).hexdigest()
            hits.append((domain_id, ts, ip_hash, "DE" if n % 2 else "AT", BROWSER, None, "/x"))
    db.executemany(
        "INSERT INTO hits (domain_id, ts, ip_hash, country, user_agent, referer, path) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        hits,
    )
    db.commit()
    db.close()
    return path
