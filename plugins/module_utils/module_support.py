# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where the ACME core meets AnsibleModule.

`acme_argument_spec()` matches the `certforge.acme.acme` doc fragment option for option.
"""

from __future__ import annotations

import contextlib
import typing as t
from urllib.parse import urlparse

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.errors import NoLogError

from ansible_collections.certforge.acme.plugins.module_utils._acme.account import AccountClient
from ansible_collections.certforge.acme.plugins.module_utils._acme.deps import CA_LIBRARIES, missing_libraries
from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import AcmeError, ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import read_file
from ansible_collections.certforge.acme.plugins.module_utils._acme.jose import SigningKey
from ansible_collections.certforge.acme.plugins.module_utils._acme.keys import load_private_key
from ansible_collections.certforge.acme.plugins.module_utils._acme.retries import RetryLog
from ansible_collections.certforge.acme.plugins.module_utils._acme.transport import AcmeSession


def acme_argument_spec() -> dict[str, dict[str, t.Any]]:
    """The options every ACME module takes (see the doc fragment for their meaning)."""
    return {
        "acme_directory": {"type": "str", "required": True},
        "account_key_src": {"type": "path", "aliases": ["account_key"]},
        "account_key_content": {"type": "str", "no_log": True},
        "account_key_passphrase": {"type": "str", "no_log": True},
        "account_uri": {"type": "str"},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "request_timeout": {"type": "int", "default": 10},
        "retry_timeout": {"type": "int", "default": 60},
        "ca_session": {"type": "dict"},
    }


ACCOUNT_KEY_OPTIONS = ("account_key_src", "account_key_content")


class AcmeModule(AnsibleModule):
    """An AnsibleModule whose every result carries the retries of its session to the CA.

    `retries` counts, by kind, the requests sent again (see retries.RETRY_KINDS); when there were
    any, one warning says how many and why, so a flaky CA shows before it fails.
    """

    acme_session: AcmeSession | None = None
    _retries_reported = False

    def exit_json(self, **kwargs: t.Any) -> t.NoReturn:
        self._report_retries(kwargs)
        if self.acme_session is not None:
            kwargs.setdefault("ca_session", self.acme_session.handoff())
        super().exit_json(**kwargs)

    def fail_json(self, msg: str, **kwargs: t.Any) -> t.NoReturn:
        self._report_retries(kwargs)
        super().fail_json(self._clearest_validation_error(msg), **kwargs)

    def _clearest_validation_error(self, msg: str) -> str:
        """The argument error that names its option, when ansible-core would report another first.

        For a list of dicts given a string element (``select_chain: [issuer]``), ansible-core's
        first error is its no_log scan's, which names no option; the element error after it does.
        """
        validation = getattr(self, "validation_result", None)
        if validation is None:
            return msg  # not the argument validation of AnsibleModule.__init__
        errors = list(validation.errors)
        if not errors or msg != validation.errors.msg:
            return msg
        named = [error for error in errors if not isinstance(error, NoLogError)]
        return named[0].msg if named else msg

    def _report_retries(self, result: dict[str, t.Any]) -> None:
        log = self.acme_session.retries if self.acme_session is not None else RetryLog()
        result.setdefault("retries", log.counts())
        summary = log.summary()
        if summary and not self._retries_reported:
            self._retries_reported = True
            self.warn(summary)


def create_module(
    argument_spec: dict[str, dict[str, t.Any]],
    *,
    account_key_required: bool = True,
    mutually_exclusive: list[t.Sequence[str]] | None = None,
    required_one_of: list[t.Sequence[str]] | None = None,
    **kwargs: t.Any,
) -> AcmeModule:
    """An AnsibleModule with the shared options added, the core's libraries checked and retries reported."""
    module = AcmeModule(
        argument_spec={**acme_argument_spec(), **argument_spec},
        mutually_exclusive=[ACCOUNT_KEY_OPTIONS, *(mutually_exclusive or [])],
        required_one_of=[*([ACCOUNT_KEY_OPTIONS] if account_key_required else []), *(required_one_of or [])],
        **kwargs,
    )
    for missing in missing_libraries(*CA_LIBRARIES):
        module.fail_json(msg=missing_required_lib(missing.reason), exception=missing.error)
    return module


@contextlib.contextmanager
def failing_on_errors(module: AnsibleModule) -> t.Iterator[None]:
    """Turn every core error into one `fail_json` with a message a person can act on."""
    try:
        yield
    except AcmeError as error:
        module.fail_json(msg=str(error), **error.to_result())


def require_https_url(value: str | None, *, option: str) -> None:
    """Refuse, before anything is signed, a resource URL that cannot be an ACME URL (RFC 8555 section 6.1)."""
    if value is None:
        return
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.netloc:
        raise ConfigurationError(f"{value!r} is not an https:// URL; give the URL the CA returned (RFC 8555 section 6.1)", option=option)


def require_wait_seconds(value: int, *, option: str) -> None:
    """A wait of `value` seconds: 0 looks once without waiting, a negative one is a mistake."""
    if value < 0:
        raise ConfigurationError(f"must be 0 (look once, do not wait) or more seconds, not {value}", option=option)


def open_session(module: AnsibleModule) -> AcmeSession:
    params = module.params
    require_https_url(params["account_uri"], option="account_uri")
    if params["ca_path"] and not params["validate_certs"]:
        module.warn("ca_path is ignored because validate_certs is false")
    if not params["validate_certs"]:
        module.warn("TLS certificates of the CA are not verified (validate_certs: false); prefer ca_path for a private CA")
    if params["request_timeout"] <= 0:
        raise ConfigurationError(f"must be a positive number of seconds, not {params['request_timeout']}", option="request_timeout")
    if params["retry_timeout"] < 0:
        raise ConfigurationError(f"must be 0 (no retries) or more seconds, not {params['retry_timeout']}", option="retry_timeout")
    if params["ca_path"]:
        read_file(params["ca_path"], option="ca_path")  # fail early and clearly on a missing bundle
    session = AcmeSession(
        directory_url=params["acme_directory"],
        ca_path=params["ca_path"],
        validate_certs=params["validate_certs"],
        request_timeout=params["request_timeout"],
        retry_timeout=params["retry_timeout"],
    )
    session.adopt(params.get("ca_session"))
    if isinstance(module, AcmeModule):
        module.acme_session = session  # its retries and what the next step may take go into the module's result
    return session


def load_signing_key(module: AnsibleModule, *, src_option: str, content_option: str, passphrase_option: str) -> SigningKey | None:
    """The key given by a `*_src`/`*_content` option pair, or None when neither is set."""
    params = module.params
    if params[src_option]:
        pem = read_file(params[src_option], option=src_option)
        option = src_option
    elif params[content_option]:
        pem = params[content_option].encode("utf-8")
        option = content_option
    else:
        return None
    key = load_private_key(pem, passphrase=params[passphrase_option], option=option, passphrase_option=passphrase_option)
    try:
        return SigningKey(key)
    except ConfigurationError as error:
        raise ConfigurationError(str(error), option=option) from None


def load_account_key(module: AnsibleModule) -> SigningKey:
    key = load_signing_key(module, src_option="account_key_src", content_option="account_key_content", passphrase_option="account_key_passphrase")
    if key is None:
        raise ConfigurationError("set account_key_src or account_key_content", option="account_key_src")
    return key


def resolve_account(module: AnsibleModule, session: AcmeSession) -> tuple[SigningKey, str]:
    """The account key and URL (the `kid` of every request); looked up unless account_uri is given."""
    key = load_account_key(module)
    if module.params["account_uri"]:
        return key, module.params["account_uri"]
    account = AccountClient(session, key).find()
    if account is None:
        raise ConfigurationError(
            "no account exists at this CA for this account key; register it first with certforge.acme.acme_account",
            option="account_key_src",
        )
    return key, account.uri
