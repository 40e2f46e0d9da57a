# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the host-side modules meet AnsibleModule, as module_support.py is for the CA-facing ones.

A host-side module (plan, deploy, challenge files and responders, locks, keys) never talks to the CA,
so it checks and imports only the libraries it names: a host needs `cryptography`, and `dnspython`
only where a DNS message is sent. Nothing imported here may pull in `requests` (or
`ansible.module_utils.urls`): that would cost every host module run its import time, and on a host
without it, the run (tests/unit/plugins/modules/test_host_module_imports.py).
"""

from __future__ import annotations

import contextlib
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certforge.acme.plugins.module_utils._acme.deps import missing_libraries
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import AcmeError


def create_host_module(
    argument_spec: dict[str, dict[str, t.Any]],
    *,
    libraries: t.Sequence[str] = (),
    **kwargs: t.Any,
) -> AnsibleModule:
    """An AnsibleModule that has checked `libraries` (names in deps.LIBRARIES), and only those.

    A missing or too old one fails with Ansible's usual missing-library message, and the failure's
    `missing_libraries` lists every one of them by name, so that the role can tell this failure from
    others (it can install `cryptography` with the OS package manager; tasks/main.yml).
    """
    module = AnsibleModule(argument_spec=argument_spec, **kwargs)
    if libraries:
        missing = missing_libraries(*libraries)
        if missing:
            module.fail_json(msg=missing_required_lib(missing[0].reason), exception=missing[0].error, missing_libraries=[library.name for library in missing])
    return module


@contextlib.contextmanager
def failing_on_host_errors(module: AnsibleModule, *, changed: t.Callable[[], bool] | None = None) -> t.Iterator[None]:
    """Turn every core error into one `fail_json` with a message a person can act on.

    `changed` says, at the moment of the failure, whether the host was changed before it.
    """
    try:
        yield
    except AcmeError as error:
        result = error.to_result()
        if changed is not None:
            result["changed"] = changed()
        module.fail_json(msg=str(error), **result)
