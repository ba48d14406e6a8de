"""The license server: licenses, activations, sessions, releases, client configs and signed
offline license files, for license clients (`X-API-Key`) and the admin panel."""
