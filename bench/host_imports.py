"""What a host-side module loads beyond ansible.module_utils.basic, in milliseconds (python -X importtime).

    .venv/bin/python bench/host_imports.py [--rounds 11] [--before <git revision>] [--python <interpreter>]

Each round runs every host-side module in a fresh interpreter, with ``-X importtime``: it imports
``ansible.module_utils.basic`` (Ansible's own cost, not counted), then the module, then runs its main()
through its set-up (library checks included) up to its first look at the options, where a stand-in for
AnsibleModule stops it. The sum of the ``self`` times of everything imported after basic is that
module's figure; the CPU time of the same stretch (time.process_time) is printed beside it, since on a
busy machine the wall-clock figures of importtime grow with the load and CPU time does not. With
--before, the same is measured on that revision's plugins (from ``git archive``), alternating with the
working tree's in each round, since a busy machine drifts. Prints medians.

No timing is asserted anywhere: this is a measuring tool.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
HOST_MODULES = (
    "acme_certificate_plan",
    "acme_certificate_deploy",
    "acme_account_key",
    "acme_http01_files",
    "acme_dns_rfc2136",
    "acme_tls_alpn_responder",
    "acme_certificate_lock",
    "acme_state_files",
)
MARK = "-- ansible.module_utils.basic loaded --"

PROBE = f"""
import importlib, sys, time
sys.path.insert(0, sys.argv[1])
import ansible.module_utils.basic as basic

class SetUpDone(Exception):
    pass

class StandIn:
    def __init__(self, **kwargs):
        pass

    def fail_json(self, **kwargs):
        raise SystemExit(kwargs.get("msg"))

    @property
    def params(self):
        raise SetUpDone

basic.AnsibleModule = StandIn
sys.stderr.write({MARK!r} + "\\n")
sys.stderr.flush()
started = time.process_time()
module = importlib.import_module("ansible_collections.certforge.acme.plugins.modules." + sys.argv[2])
try:
    module.main()
except SetUpDone:
    pass
print((time.process_time() - started) * 1000)
"""


def collection_root(work_dir: pathlib.Path, label: str, revision: str | None) -> pathlib.Path:
    """A directory holding ansible_collections/certforge/acme: the working tree, or `revision`'s plugins."""
    root = work_dir / label
    collection = root / "ansible_collections" / "certforge" / "acme"
    collection.parent.mkdir(parents=True)
    if revision is None:
        collection.symlink_to(REPO_ROOT, target_is_directory=True)
    else:
        collection.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", revision, "plugins"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(collection)], input=archive, check=True)
    return root


def milliseconds(python: str, root: pathlib.Path, module: str) -> tuple[float, float]:
    """The importtime sum and the CPU time, both in ms, of one module's imports and set-up."""
    completed = subprocess.run([python, "-X", "importtime", "-c", PROBE, str(root), module], capture_output=True, text=True, check=False)
    if MARK not in completed.stderr:
        raise SystemExit(f"{module} could not be measured:\n{completed.stderr[-2000:]}")
    after = completed.stderr.split(MARK, 1)[1]
    if "Traceback" in after:
        raise SystemExit(f"{module} failed:\n{after[-2000:]}")
    micros = [int(line.split("|")[0].split(":")[1]) for line in after.splitlines() if line.startswith("import time:") and "self [us]" not in line]
    return sum(micros) / 1000, float(completed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--before", help="a git revision to compare with, e.g. main")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs the modules")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="host-imports-") as work_dir_name:
        work_dir = pathlib.Path(work_dir_name)
        trees = {"now": collection_root(work_dir, "now", None)}
        if arguments.before:
            trees = {"before": collection_root(work_dir, "before", arguments.before), **trees}
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _round in range(arguments.rounds):
            for module in HOST_MODULES:
                for label, root in trees.items():
                    figures.setdefault((module, label), []).append(milliseconds(arguments.python, root, module))
    print(f"median ms beyond ansible.module_utils.basic, {arguments.rounds} rounds, {arguments.python}")
    print(f"{'module':28}" + "".join(f"{label + ' import':>14}{label + ' cpu':>12}" for label in trees))
    for module in HOST_MODULES:
        cells = []
        for label in trees:
            runs = figures[(module, label)]
            cells.append(f"{statistics.median(run[0] for run in runs):14.1f}{statistics.median(run[1] for run in runs):12.1f}")
        print(f"{module:28}" + "".join(cells))


if __name__ == "__main__":
    main()
