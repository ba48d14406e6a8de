"""DNS records per zone, at the provider chosen for the zone (INWX, PowerDNS, Hetzner DNS)."""
