# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side modules never load `requests`: a host need not have it, and its import costs every run.

Each module is imported in a fresh interpreter (this one has requests, so a stray import shows) and its
main() is run up to the end of its set-up, library checks included: AnsibleModule is replaced by a
stand-in that stops main() at its first look at the options.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HOST_MODULES = [
    "acme_account_key",
    "acme_certificate_deploy",
    "acme_certificate_lock",
    "acme_certificate_metrics",
    "acme_certificate_plan",
    "acme_dns_rfc2136",
    "acme_http01_files",
    "acme_state_files",
    "acme_tls_alpn_responder",
]
NEVER_LOADED = ["requests", "ansible.module_utils.urls"]

PROBE = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.certforge.acme.plugins.module_utils import host_support

class SetUpDone(Exception):
    pass

class StandIn:
    def __init__(self, **kwargs):
        pass

    def fail_json(self, **kwargs):
        raise SystemExit(json.dumps(kwargs))

    @property
    def params(self):
        raise SetUpDone

host_support.AnsibleModule = StandIn
module = importlib.import_module("ansible_collections.certforge.acme.plugins.modules." + sys.argv[2])
try:
    module.main()
except SetUpDone:
    set_up = True
else:
    set_up = False
print(json.dumps({"set_up": set_up, "loaded": [name for name in sys.argv[3:] if name in sys.modules]}))
"""


@pytest.mark.parametrize("module_name", HOST_MODULES)
def test_host_module_never_loads_requests(module_name, collections_path):
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, str(collections_path), module_name, *NEVER_LOADED],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr or completed.stdout
    outcome = json.loads(completed.stdout)
    assert outcome["set_up"], f"{module_name} does not set itself up with host_support.create_host_module"
    assert outcome["loaded"] == []
