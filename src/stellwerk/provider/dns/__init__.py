"""DNS providers: the `DnsProvider` Protocol (base.py) and its adapters (INWX, PowerDNS, ...)."""
