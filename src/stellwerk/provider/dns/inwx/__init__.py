"""INWX nameservers as a DNS provider, on the registrar's DomRobot client (its sandbox is the
INWX registrar sandbox)."""
