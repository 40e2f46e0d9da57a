# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How often a state-changing POST whose answer was lost is sent again.

The transport raises `OutcomeUnknown` when a POST may have reached the CA but its answer did not
come back. Each resource reads itself back first (RFC 8555 section 7.1: every resource can be
read with POST-as-GET) and sends the request again only when the CA did not act on it.
"""

from __future__ import annotations

# A lost answer is rare; three in a row means the path to the CA is broken, and a person
# should look rather than the client piling up requests.
RESEND_TRIES = 3
