# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of one certificate of acme_certificate_plan and acme_certificate_deploy: each is documented
    # once at the top level (anchor) and taken by O(certificates) as a suboption (alias, required where each
    # entry must have it), matching CERTIFICATE_OPTIONS and REQUIRED_PER_CERTIFICATE in the module.
    # Private: only these two modules use it. Only its PLAN and DEPLOY parts are meant to be used.
    DOCUMENTATION = r"""
options: {}
"""

    PLAN = r"""
options:
  cert_path: &cert_path
    description: Where the certificate is (or will be) deployed.
    type: path
  key_path: &key_path
    description: Where the certificate's private key is (or will be) deployed.
    type: path
  identifiers: &identifiers
    description: The names and IP addresses the certificate must carry (as for M(certforge.acme.acme_order)).
    type: list
    elements: raw
  key_type: &key_type
    description: The type of private key wanted.
    type: str
    choices: [ec256, ec384, rsa2048, rsa3072, rsa4096]
    default: ec256
  reuse_key: &reuse_key
    description: Sign the CSR with the current private key when it is usable, instead of making a new one.
    type: bool
    default: false
  renew_before_days: &renew_before_days
    description:
      - Renew when fewer than this many days are left, exactly (no spread).
      - Unset, renew when less than a third of the certificate's lifetime is left, up to a twentieth of the
        lifetime earlier by the certificate's share of the spread (see the description).
    type: int
  force: &force
    description: Make a new certificate even when the current one is fine.
    type: bool
    default: false
  force_reason: &force_reason
    description:
      - Why the renewal is forced, reported as RV(reason) instead of the generic one; for example what the CA's
        renewal information (M(certforge.acme.acme_renewal_info)) said.
    type: str
  chain_path: &chain_path
    description: The deployed intermediates, checked to be whole and to belong to the certificate.
    type: path
  fullchain_path: &fullchain_path
    description: The deployed certificate followed by its intermediates, checked likewise.
    type: path
  certificates:
    description:
      - All certificates of the host, each with the options of one certificate and a O(certificates[].name).
        Without it, O(cert_path), O(key_path) and O(identifiers) describe the one certificate.
      - Mutually exclusive with O(cert_path), O(key_path) and O(identifiers); O(lock_holder), O(lock_timeout) and
        O(lock_lease) apply to each.
    type: list
    elements: dict
    suboptions:
      name:
        description: The certificate's name, repeated in its entry of RV(certificates).
        type: str
        required: true
      cert_path:
        <<: *cert_path
        required: true
      key_path:
        <<: *key_path
        required: true
      identifiers:
        <<: *identifiers
        required: true
      key_type: *key_type
      reuse_key: *reuse_key
      renew_before_days: *renew_before_days
      force: *force
      force_reason: *force_reason
      chain_path: *chain_path
      fullchain_path: *fullchain_path
"""

    DEPLOY = r"""
options:
  cert: &cert
    description: The certificate (PEM), for example RV(certforge.acme.acme_finalize#module:cert).
    type: str
  chain: &chain
    description: The intermediate certificates (PEM), for example RV(certforge.acme.acme_finalize#module:chain).
    type: str
    default: ""
  cert_path: &cert_path
    description: Where the certificate alone goes.
    type: path
  key_path: &key_path
    description: Where the private key goes (or already is).
    type: path
  key_src: &key_src
    description:
      - The key the certificate was requested with, as RV(certforge.acme.acme_certificate_plan#module:key_src).
      - When it differs from O(key_path) it is moved there. Defaults to O(key_path).
    type: path
  chain_path: &chain_path
    description: Where the intermediates go.
    type: path
  fullchain_path: &fullchain_path
    description: Where the certificate followed by the intermediates goes.
    type: path
  combined_path: &combined_path
    description: Where one PEM with the full chain and the private key goes (HAProxy style); written with O(key_mode).
    type: path
  owner: &owner
    description: Owner of all files.
    type: str
  group: &group
    description: Group of all files.
    type: str
  mode: &mode
    description: Mode of the certificate files, octal (V('0644')) or symbolic (V(u=rw,g=r,o=r)).
    type: raw
    default: "0644"
  key_mode: &key_mode
    description: Mode of the private key and of the combined file, octal (V('0600')) or symbolic (V(u=rw,go=)).
    type: raw
    default: "0600"
  backup: &backup
    description: Keep a timestamped copy of each file before it is replaced.
    type: bool
    default: true
  verify_key: &verify_key
    description: Refuse to deploy a certificate that does not belong to the key.
    type: bool
    default: true
  certificates:
    description:
      - All certificates of the host, each with the options of one certificate and a O(certificates[].name).
        Without it, O(cert), O(cert_path) and O(key_path) describe the one certificate.
      - Mutually exclusive with O(cert), O(cert_path) and O(key_path).
    type: list
    elements: dict
    suboptions:
      name:
        description: The certificate's name, repeated in its entry of RV(certificates).
        type: str
        required: true
      cert:
        <<: *cert
        required: true
      chain: *chain
      cert_path:
        <<: *cert_path
        required: true
      key_path:
        <<: *key_path
        required: true
      key_src: *key_src
      chain_path: *chain_path
      fullchain_path: *fullchain_path
      combined_path: *combined_path
      owner: *owner
      group: *group
      mode: *mode
      key_mode: *key_mode
      backup: *backup
      verify_key: *verify_key
"""
