"""Checks of host-side options: what each accepts as Ansible would, and the option each refusal names."""

from __future__ import annotations

import pathlib

import pytest

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils.input_checks import (
    check_absolute_path,
    check_at_least,
    check_file_mode,
    check_ip_address,
    check_not_directory,
    check_port,
)


@pytest.mark.parametrize("mode", ["0644", "644", "0600", "00644", 0o640, "u=rw,g=r,o=r", "u=rw,go=", "a+r", "+x", "g+u", None])
def test_modes_ansible_applies_are_accepted(mode: object) -> None:
    check_file_mode(mode, option="mode")


@pytest.mark.parametrize("mode", ["rw-r--r--", "rwx", "0899", "", "u=rw,", "ua+r", "12345", 0o10000, -1, True])
def test_modes_ansible_cannot_apply_are_refused_naming_the_option(mode: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^key_mode: .* is not a file mode; give an octal mode such as '0644'"):
        check_file_mode(mode, option="key_mode")


def test_ports_outside_1_to_65535_are_refused() -> None:
    check_port(443, option="port")
    for port in (0, 65536, -1):
        with pytest.raises(ConfigurationError, match=rf"^port: must be a port between 1 and 65535, not {port}$"):
            check_port(port, option="port")


def test_at_least_says_what_the_smallest_value_does() -> None:
    check_at_least(None, 0, option="renew_before_days")
    check_at_least(0, 0, option="renew_before_days", meaning="renew once it has expired")
    with pytest.raises(ConfigurationError, match=r"^renew_before_days: must be 0 \(renew once it has expired\) or more, not -10$"):
        check_at_least(-10, 0, option="renew_before_days", meaning="renew once it has expired")
    with pytest.raises(ConfigurationError, match=r"^lock_lease: must be 1 or more, not 0$"):
        check_at_least(0, 1, option="lock_lease")


def test_relative_paths_are_refused() -> None:
    check_absolute_path("/var/www/html", option="webroot")
    check_absolute_path(None, option="webroot")
    with pytest.raises(ConfigurationError, match=r"^webroot: 'var/www/html' is relative; give an absolute path"):
        check_absolute_path("var/www/html", option="webroot")


def test_a_directory_where_a_file_belongs_is_refused(tmp_path: pathlib.Path) -> None:
    check_not_directory(str(tmp_path / "cert.pem"), option="cert_path")
    with pytest.raises(ConfigurationError, match=r"^cert_path: .* is a directory; give the path of the file itself$"):
        check_not_directory(str(tmp_path), option="cert_path")


@pytest.mark.parametrize("address", ["0.0.0.0", "127.0.0.1", "::", "::1"])
def test_ip_addresses_are_accepted(address: str) -> None:
    check_ip_address(address, option="listen")


@pytest.mark.parametrize("address", ["not-an-address", "[::]", "localhost", "", "127.0.0.1:443"])
def test_what_is_no_ip_address_is_refused(address: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^listen: .* is not an IP address"):
        check_ip_address(address, option="listen")
