#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_dns_rfc2136
short_description: Publish or remove dns-01 TXT records with RFC 2136 dynamic updates
version_added: 0.1.0
description:
  - Puts the TXT records of dns-01 challenges into a zone with TSIG-signed dynamic updates (RFC 2136), as
    BIND, Knot DNS, PowerDNS and others accept them, and removes them again afterwards.
  - Takes RV(certforge.acme.acme_order#module:challenge_data_dns) as it is.
  - With O(state=present), the given values are added at each record name, in one update per zone; values of other
    orders at the same name stay (with O(exclusive=true), each name gets exactly the given values instead). Then the
    module waits until every authoritative name server serves every value, because the CA may ask any of them.
  - With O(state=absent), only the given values are deleted; other values at the same name stay, as another
    order may be using them.
  - The module reads what the server serves first and only sends an update when that differs.
  - "Runs where the DNS server is reachable, usually the controller (C(delegate_to: localhost))."
extends_documentation_fragment:
  - certforge.acme.host_requirements.dnspython
attributes:
  check_mode:
    description: Reads what the server serves and reports what would change; never sends an update and does not wait.
    support: full
  diff_mode:
    description: Shows the TXT values at each record name before and after.
    support: full
  idempotent:
    description:
      - Reports a change only when a given value is missing (O(state=present)), the values differ from the given ones
        (O(exclusive=true)), or a given value is there (O(state=absent)).
      - Only the values are compared; a record set with the wanted values but another TTL is left alone.
    support: full
options:
  server:
    description: IP address or host name of the primary name server that accepts the updates for the zone.
    type: str
    required: true
  port:
    description:
      - Port of O(server).
      - Also the port on which the name servers found in the zone's NS records are asked, when O(nameservers) is not set.
    type: int
    default: 53
  zone:
    description:
      - The zone that holds all O(records), for example V(example.com).
      - When omitted, the module asks O(server) for the SOA record of each record name and its parents, and uses
        the closest one O(server) is authoritative for; records may then lie in several zones.
    type: str
  key_name:
    description:
      - Name of the TSIG key (RFC 8945) that signs every message to O(server).
      - Without O(key_name) and O(key_secret), updates are sent unsigned; few servers accept that.
    type: str
  key_secret:
    description: The TSIG key's secret, base64 encoded, as C(tsig-keygen) prints it.
    type: str
  key_algorithm:
    description: The TSIG key's algorithm.
    type: str
    choices: [hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5]
    default: hmac-sha256
  records:
    description:
      - TXT record name -> list of values, exactly as RV(certforge.acme.acme_order#module:challenge_data_dns).
      - Names may end with a dot or not; they are always absolute. Values are the raw strings, without quotes.
      - A record name that is an alias (CNAME) is followed to its target when O(follow_cname=true).
    type: dict
    required: true
  follow_cname:
    description:
      - When a record name is an alias (CNAME), for example C(_acme-challenge.www.example.com CNAME
        www.validation.example.net) to keep the update key narrow to a validation zone, put its values at the end
        of the alias chain, in the zone of that target, and wait until the name servers of that zone serve them.
        The CA follows the alias when it looks the record up.
      - O(server) is asked whether a name is an alias; when it is not authoritative for the name, this host's
        resolver is asked. O(server) must be the primary of the target's zone, and O(zone), when set, the zone of the
        targets.
      - With V(false), a record name that is an alias fails the module, naming its target.
    type: bool
    default: true
  state:
    description:
      - V(present) adds the given values at each name (see O(exclusive)), then waits for propagation.
      - V(absent) deletes the given values and leaves any others.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), make each TXT record set hold exactly the given values, removing values left behind
        by interrupted runs.
      - Keep V(false) when several hosts may validate the same name at the same time (the C(acme_certificate) role
        does), as each would erase the others' values.
    type: bool
    default: false
  ttl:
    description: TTL in seconds of the TXT records. Short, so that a retry with new values is not hidden by caches.
    type: int
    default: 60
  propagation_timeout:
    description:
      - With O(state=present), how many seconds to wait at most until every name server serves every value; the
        module fails naming each server that lacks a record.
      - V(0) does not wait or check.
    type: int
    default: 120
  nameservers:
    description:
      - The name servers that must serve the records before the module returns, as V(host), V(host:port) or
        V([IPv6]:port); the port defaults to O(port).
      - When omitted, the NS records of each zone, their addresses looked up at O(server) (or with this host's
        resolver when O(server) does not know them), asked on O(port).
    type: list
    elements: str
  timeout:
    description: Seconds to wait for the answer to each DNS message.
    type: int
    default: 10
notes:
  - Name servers are asked directly and without recursion, over UDP and over TCP when an answer is truncated;
    updates go over TCP.
  - Every message to O(server) is signed with the key, so a wrong key fails on the first query, in check mode too.
seealso:
  - module: certforge.acme.acme_order
  - module: certforge.acme.acme_challenge
  - name: RFC 8555 section 8.4 (DNS Challenge)
    description: The CA resolves the C(_acme-challenge) name as usual, following aliases.
    link: https://www.rfc-editor.org/rfc/rfc8555#section-8.4
  - name: RFC 2136 (Dynamic Updates in the Domain Name System)
    description: The update protocol this module speaks.
    link: https://www.rfc-editor.org/rfc/rfc2136
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Order a wildcard certificate
  certforge.acme.acme_order:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    identifiers: ["*.example.com", example.com]
  delegate_to: localhost
  register: cert_order

- name: Publish the dns-01 records and wait until all name servers of example.com serve them
  certforge.acme.acme_dns_rfc2136:
    server: ns1.example.com
    key_name: acme-update
    key_secret: "{{ vault_acme_update_secret }}"
    records: "{{ cert_order.challenge_data_dns }}"
  delegate_to: localhost

- name: Let the CA validate
  certforge.acme.acme_challenge:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/ansible/acme/account.key
    order_uri: "{{ cert_order.order_uri }}"
    challenge: dns-01
  delegate_to: localhost

- name: Remove the records again
  certforge.acme.acme_dns_rfc2136:
    server: ns1.example.com
    key_name: acme-update
    key_secret: "{{ vault_acme_update_secret }}"
    records: "{{ cert_order.challenge_data_dns }}"
    state: absent
  delegate_to: localhost

- name: Publish where _acme-challenge.www.example.com points (a CNAME into validation.example.net), with a key for that zone only
  certforge.acme.acme_dns_rfc2136:
    server: ns1.validation.example.net
    key_name: acme-validation
    key_secret: "{{ vault_acme_validation_secret }}"
    records:
      _acme-challenge.www.example.com: [LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0]
  delegate_to: localhost

- name: A hidden primary on another port, a known zone, and the public name servers to check
  certforge.acme.acme_dns_rfc2136:
    server: 10.0.0.53
    port: 5353
    zone: example.com
    key_name: acme-update
    key_secret: "{{ vault_acme_update_secret }}"
    key_algorithm: hmac-sha512
    records:
      _acme-challenge.www.example.com: [LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0]
    nameservers:
      - 192.0.2.53
      - "[2001:db8::53]:53"
    propagation_timeout: 300
  delegate_to: localhost
"""

RETURN = r"""
zone:
  description: The zone that holds the records; V(null) when they lie in several zones (see RV(zones)) or O(records) is empty.
  returned: always
  type: str
  sample: example.com
zones:
  description: Every zone that holds some of the records, one update each.
  returned: always
  type: list
  elements: str
  sample: [example.com]
records:
  description:
    - TXT record name (without the final dot) -> the values O(server) serves there now, sorted.
    - In check mode, the values it would serve.
  returned: always
  type: dict
  sample:
    _acme-challenge.example.com: [LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0]
aliases:
  description:
    - Record name (without the final dot) -> the name its values were put at, for each record name of O(records) that
      is an alias (CNAME) followed with O(follow_cname=true). RV(records) is keyed by those targets.
  returned: always
  type: dict
  sample:
    _acme-challenge.www.example.com: www.validation.example.net
nameservers:
  description:
    - The name servers that were checked and serve every value, as C(address:port).
    - Empty when nothing was checked (O(state=absent), O(propagation_timeout=0), check mode).
  returned: always
  type: list
  elements: str
  sample: ["192.0.2.53:53", "[2001:db8::53]:53"]
"""

import time
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils.dns_aliases import follow_aliases
from ansible_collections.certforge.acme.plugins.module_utils.dns_rfc2136 import (
    TSIG_ALGORITHMS,
    Primary,
    apply_records,
    display,
    find_zones,
    nameserver_at,
    parse_name,
    parse_records,
    propagation_targets,
    tsig_key,
    wait_for_propagation,
)
from ansible_collections.certforge.acme.plugins.module_utils.host_support import create_host_module, failing_on_host_errors


def check_options(params: dict[str, t.Any]) -> None:
    """What the argument spec cannot say: number ranges, and a key needs both its name and its secret."""
    if bool(params["key_name"]) != bool(params["key_secret"]):
        raise ConfigurationError("give key_name and key_secret together, or neither for unsigned updates", option="key_name")
    if not 0 < params["port"] < 65536:
        raise ConfigurationError(f"must be between 1 and 65535, not {params['port']}", option="port")
    if not 0 <= params["ttl"] < 2**31:
        raise ConfigurationError(f"must be between 0 and 2147483647 seconds, not {params['ttl']}", option="ttl")
    if params["timeout"] <= 0:
        raise ConfigurationError(f"must be a positive number of seconds, not {params['timeout']}", option="timeout")
    if params["propagation_timeout"] < 0:
        raise ConfigurationError(f"must be 0 (do not wait) or more seconds, not {params['propagation_timeout']}", option="propagation_timeout")


def by_display_name(records: dict[t.Any, list[str]]) -> dict[str, list[str]]:
    return {display(name): sorted(values) for name, values in records.items()}


def main() -> None:
    module: AnsibleModule = create_host_module(
        argument_spec={
            "server": {"type": "str", "required": True},
            "port": {"type": "int", "default": 53},
            "zone": {"type": "str"},
            "key_name": {"type": "str"},
            "key_secret": {"type": "str", "no_log": True},
            "key_algorithm": {"type": "str", "choices": list(TSIG_ALGORITHMS), "default": "hmac-sha256"},
            "records": {"type": "dict", "required": True},
            "follow_cname": {"type": "bool", "default": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "exclusive": {"type": "bool", "default": False},
            "ttl": {"type": "int", "default": 60},
            "propagation_timeout": {"type": "int", "default": 120},
            "nameservers": {"type": "list", "elements": "str"},
            "timeout": {"type": "int", "default": 10},
        },
        required_together=[("key_name", "key_secret")],
        libraries=["dnspython"],
        supports_check_mode=True,
    )
    params = module.params
    outcome, checked = None, []
    aliases: dict[t.Any, t.Any] = {}  # dns.name.Name -> dns.name.Name; dnspython is imported where it is used
    # A propagation timeout comes after the update: say that the zone did change.
    with failing_on_host_errors(module, changed=lambda: bool(outcome and outcome.changed)):
        check_options(params)
        records = parse_records(params["records"])
        key = tsig_key(name=params["key_name"], secret=params["key_secret"], algorithm=params["key_algorithm"]) if params["key_name"] else None
        primary = Primary(nameserver_at(params["server"], params["port"], option="server"), key=key, timeout=params["timeout"])
        zone = parse_name(params["zone"], option="zone") if params["zone"] else None

        if params["follow_cname"]:
            records, aliases = follow_aliases(primary, records)
        zones = find_zones(primary, records, zone=zone)
        outcome = apply_records(primary, zones, state=params["state"], ttl=params["ttl"], check_mode=module.check_mode, exclusive=params["exclusive"])

        if params["state"] == "present" and params["propagation_timeout"] > 0 and not module.check_mode:
            targets = propagation_targets(primary, zones, nameservers=params["nameservers"], port=params["port"])
            wait_for_propagation(targets, timeout=params["propagation_timeout"], query_timeout=params["timeout"], sleep=time.sleep, clock=time.monotonic)
            checked = [nameserver.endpoint for nameserver, _wanted in targets]

    result: dict[str, t.Any] = {
        "changed": outcome.changed,
        "zone": display(outcome.zones[0]) if len(outcome.zones) == 1 else None,
        "zones": [display(zone) for zone in outcome.zones],
        "records": by_display_name(outcome.records),
        "aliases": {display(name): display(target) for name, target in aliases.items()},
        "nameservers": checked,
    }
    if module._diff:
        result["diff"] = {"before": by_display_name(outcome.before), "after": result["records"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
