"""The web UI: server-rendered pages behind the cookie login with CSRF protection."""
