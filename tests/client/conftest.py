from tests.license.conftest import api_key, license_client

__all__ = ["api_key", "license_client"]
