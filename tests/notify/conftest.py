from tests.license.conftest import api_key, key_headers

__all__ = ["api_key", "key_headers"]
