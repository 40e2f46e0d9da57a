# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""External Account Binding: an HMAC key shorter than its hash's output is refused (RFC 7518 section 3.2)."""

from __future__ import annotations

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import b64url_encode, eab_secret

KEY_32_BYTES = b64url_encode(bytes(range(32)))


@pytest.mark.parametrize("alg, needed", [("HS384", 48), ("HS512", 64)])
def test_a_key_shorter_than_the_hash_is_refused_naming_the_option(alg, needed):
    with pytest.raises(ConfigurationError) as caught:
        eab_secret(KEY_32_BYTES, alg)
    message = str(caught.value)
    assert message.startswith("external_account_binding: ")
    assert f"{needed} bytes" in message and "32" in message and "\n" not in message


@pytest.mark.parametrize("alg, size", [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_a_key_as_long_as_the_hash_is_taken(alg, size):
    assert len(eab_secret(b64url_encode(bytes(size)), alg)) == size
