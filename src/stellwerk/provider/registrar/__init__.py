"""Domain registrars: the `Registrar` Protocol (base.py) and the INWX adapter."""
