# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What host-side modules need on the host, as plugins/module_utils/_acme/deps.py checks it:
    # never requests, which only the CA-facing modules (the certforge.acme.acme fragment) use.
    # ansible-core refuses a fragment without options or attributes, hence the empty options.
    DOCUMENTATION = r"""
options: {}
requirements:
  - python >= 3.9
  - cryptography >= 3.4
"""

    # For a module that sends DNS messages and signs nothing.
    DNSPYTHON = r"""
options: {}
requirements:
  - python >= 3.9
  - dnspython >= 2.1
"""
