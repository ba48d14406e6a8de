"""Users, logins, API tokens, the system API key and the scopes they carry."""
