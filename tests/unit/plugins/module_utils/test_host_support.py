# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import yaml

from ansible_collections.certforge.acme.plugins.doc_fragments.host_requirements import ModuleDocFragment
from ansible_collections.certforge.acme.plugins.module_utils._acme import deps


def test_documented_host_requirements_are_what_the_modules_check():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["requirements"]
    documented += yaml.safe_load(ModuleDocFragment.DNSPYTHON)["requirements"]
    for name, library in deps.LIBRARIES.items():
        if name != "requests":
            assert f"{name} >= {library.minimum}" in documented
    assert not any(requirement.startswith("requests") for requirement in documented)
