"""acme_certificate_deploy's installing: key first, and a failure part way puts back what was there."""

from __future__ import annotations

import os

import pytest

from ansible_collections.certforge.acme.plugins.module_utils import deploy_files
from ansible_collections.certforge.acme.plugins.module_utils.deploy_files import DeployFailed, DeployFile, install

NAMES = ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")
OPTIONS = ("key_path", "cert_path", "chain_path", "fullchain_path")


def deployed(tmp_path, content: bytes) -> list[DeployFile]:
    return [DeployFile(option, str(tmp_path / name), content + name.encode()) for option, name in zip(OPTIONS, NAMES)]


def contents(tmp_path) -> dict[str, bytes]:
    return {name: (tmp_path / name).read_bytes() for name in NAMES if (tmp_path / name).is_file()}


def test_the_key_goes_in_place_before_any_certificate(tmp_path, monkeypatch):
    install(deployed(tmp_path, b"old "), uid=None, gid=None, backup=None)
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(deploy_files.os, "replace", lambda source, target: (renamed.append(os.path.basename(target)), real_replace(source, target)))
    install(deployed(tmp_path, b"new "), uid=None, gid=None, backup=None)
    assert renamed == list(NAMES)
    assert contents(tmp_path) == {name: b"new " + name.encode() for name in NAMES}
    assert sorted(os.listdir(tmp_path)) == sorted(NAMES)  # no staged or saved copies left


def test_a_failure_part_way_puts_back_the_previous_files(tmp_path):
    install(deployed(tmp_path, b"old "), uid=None, gid=None, backup=None)
    before = contents(tmp_path)
    # fullchain.pem becomes a directory with something in it: it cannot be replaced by a file, but
    # everything before it (the key, the certificate, the chain) was already renamed in place.
    (tmp_path / "fullchain.pem").unlink()
    (tmp_path / "fullchain.pem").mkdir()
    (tmp_path / "fullchain.pem" / "keep").write_bytes(b"")
    with pytest.raises(DeployFailed) as raised:
        install(deployed(tmp_path, b"new "), uid=None, gid=None, backup=None)
    message = str(raised.value)
    assert message.startswith(f"cannot deploy to {tmp_path / 'fullchain.pem'}: ")
    assert message.endswith("; the previous files are in place, nothing changed")
    assert "\n" not in message
    assert contents(tmp_path) == {name: content for name, content in before.items() if name != "fullchain.pem"}
    assert sorted(os.listdir(tmp_path)) == sorted(NAMES)


def test_files_that_did_not_exist_are_removed_again(tmp_path):
    (tmp_path / "chain.pem").mkdir()
    (tmp_path / "chain.pem" / "keep").write_bytes(b"")
    with pytest.raises(DeployFailed):
        install(deployed(tmp_path, b"new "), uid=None, gid=None, backup=None)
    assert sorted(os.listdir(tmp_path)) == ["chain.pem"]


def test_an_unwritable_directory_fails_before_anything_is_renamed(tmp_path):
    install(deployed(tmp_path, b"old "), uid=None, gid=None, backup=None)
    before = contents(tmp_path)
    files = deployed(tmp_path, b"new ")
    files.append(DeployFile("combined_path", str(tmp_path / "missing-parent-file" / "combined.pem"), b"x"))
    (tmp_path / "missing-parent-file").write_bytes(b"")  # a file where a directory must be
    with pytest.raises(DeployFailed) as raised:
        install(files, uid=None, gid=None, backup=None)
    assert str(raised.value).endswith("; the previous files are in place, nothing changed")
    assert contents(tmp_path) == before


def test_a_restore_that_fails_is_reported_truthfully(tmp_path, monkeypatch):
    install(deployed(tmp_path, b"old "), uid=None, gid=None, backup=None)
    real_replace = os.replace

    def replace(source, target):
        if target.endswith("chain.pem") and not target.endswith("fullchain.pem"):
            raise OSError(28, "No space left on device", target)
        if source.endswith(".restore") and target.endswith("cert.pem"):
            raise OSError(5, "Input/output error", target)
        return real_replace(source, target)

    monkeypatch.setattr(deploy_files.os, "replace", replace)
    with pytest.raises(DeployFailed) as raised:
        install(deployed(tmp_path, b"new "), uid=None, gid=None, backup=None)
    message = str(raised.value)
    assert f"could not put back {tmp_path / 'cert.pem'} (Input/output error)" in message
    assert message.endswith("now in place: the new cert_path and the previous key_path, chain_path, fullchain_path")
    assert contents(tmp_path)["cert.pem"] == b"new cert.pem"
    assert contents(tmp_path)["privkey.pem"] == b"old privkey.pem"


def test_leftovers_of_a_killed_deploy_are_removed(tmp_path):
    install(deployed(tmp_path, b"old "), uid=None, gid=None, backup=None)
    (tmp_path / ".cert.pem.abcd1234.tmp").write_bytes(b"half")
    (tmp_path / ".privkey.pem.zz_z9999.restore").write_bytes(b"old")
    (tmp_path / ".privkey.pem.pending.abcd1234.tmp").write_bytes(b"not ours")
    install(deployed(tmp_path, b"new "), uid=None, gid=None, backup=None)
    assert sorted(os.listdir(tmp_path)) == sorted([*NAMES, ".privkey.pem.pending.abcd1234.tmp"])
