# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's own code in the controller's process when its task runs there.

A module process on the controller costs far more than the work it does (a new Python, Ansible's
loader, `ansible.module_utils.basic`, `cryptography` and `requests` every time): the CA-facing steps
send a few ACME requests, the role's bookkeeping steps (acme_certificate_lock, acme_state_files)
write a few small files. When a task runs on the controller anyway (local connection, the
controller's own Python, no become, no async) and that Python has the libraries, the module's
`main()` runs in the task's worker process instead: it gets
its arguments and writes its result exactly as in a module process (through `basic._ANSIBLE_ARGS`
and a JSON line), and the result is read back the way `_execute_module` reads a module's output.
So the real AnsibleModule checks the arguments, masks `no_log` values and adds `invocation`,
`warnings` and `deprecations`: one code path, nothing re-implemented that could drift.

The variable `certforge_acme_in_process: false` makes every such task start the module instead.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import traceback
import typing as t

from ansible.module_utils import basic
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

try:  # ansible-core 2.19 and later: module arguments and results carry a serialization profile
    from ansible.module_utils import _internal as module_utils_internal
    from ansible.module_utils.common import warnings as module_warnings
    from ansible.module_utils.common.json import Direction, get_module_encoder
except ImportError:  # older cores run the module as a process
    PROFILE_SUPPORT = False
else:
    PROFILE_SUPPORT = True

from ansible_collections.certforge.acme.plugins.module_utils._acme.deps import CA_LIBRARIES, missing_libraries

IN_PROCESS_VARIABLE = "certforge_acme_in_process"
MODULE_PACKAGE = "ansible_collections.certforge.acme.plugins.modules"
# The profile ansible-core gives modules that declare none, as ours do.
SERIALIZATION_PROFILE = "legacy"

display = Display()


def in_process_refusal(
    *,
    wanted: t.Any,
    connection: str,
    become: bool,
    async_seconds: int,
    interpreter: str | None = None,
    libraries: t.Sequence[str] = CA_LIBRARIES,
) -> str | None:
    """Why the module must run as a process, or None when its code may run in the controller's process.

    `interpreter` is the task's ansible_python_interpreter when one is set (not discovered): a local host
    with a Python of its own (a test host, a wrapper that moves the clock) must get its module run there.
    """
    if not boolean(wanted, strict=False):
        return f"{IN_PROCESS_VARIABLE} is false"
    if connection != "local":
        return f"the task runs over the {connection} connection, not on the controller"
    if interpreter is not None and not interpreter.startswith("auto") and not same_executable(interpreter, sys.executable):
        return f"the task's Python is {interpreter}, not the controller's"
    if become:
        return "the task uses become"
    if async_seconds:
        return "the task runs async"
    if not PROFILE_SUPPORT:
        return "this ansible-core is older than 2.19"
    missing = missing_libraries(*libraries) if libraries else []
    if missing:
        return f"the controller's Python lacks {', '.join(item.reason for item in missing)}"
    return None


def same_executable(interpreter: str, executable: str) -> bool:
    """Whether ansible_python_interpreter names this Python: the same file in the same directory.

    A virtualenv's python is a link to its base Python, so the files alone would make every virtualenv one; the
    directory tells them apart (followed through links, so a linked virtualenv is still itself).
    """

    def place(path: str) -> tuple[str, str]:
        path = os.path.abspath(os.path.expanduser(path))
        return os.path.realpath(os.path.dirname(path)), os.path.realpath(path)

    return place(interpreter) == place(executable)


def module_arguments_json(module_args: dict[str, t.Any]) -> bytes:
    """The arguments as a module process receives them (AnsiballZ's ANSIBLE_MODULE_ARGS document)."""
    encoder = get_module_encoder(SERIALIZATION_PROFILE, Direction.CONTROLLER_TO_MODULE)
    return json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode("utf-8")


@contextlib.contextmanager
def like_a_module_process(arguments: bytes, environment: dict[str, str]) -> t.Iterator[None]:
    """The process-wide state a module process starts with, restored afterwards (a loop runs its items in one worker)."""
    saved_args, saved_profile = basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE  # pylint: disable=protected-access
    saved_controller = module_utils_internal.is_controller
    saved_environment, saved_cwd = dict(os.environ), os.getcwd()
    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = arguments, SERIALIZATION_PROFILE  # pylint: disable=protected-access
    # On the controller, module_utils' warn() would print at once instead of returning the warning in the result.
    module_utils_internal.is_controller = False
    module_warnings._global_warnings.clear()  # pylint: disable=protected-access
    module_warnings._global_deprecations.clear()  # pylint: disable=protected-access
    os.environ.update({name: str(value) for name, value in environment.items()})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        os.chdir(saved_cwd)  # AnsibleModule moves away from a directory it cannot read
        module_warnings._global_warnings.clear()  # pylint: disable=protected-access
        module_warnings._global_deprecations.clear()  # pylint: disable=protected-access
        module_utils_internal.is_controller = saved_controller
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = saved_args, saved_profile  # pylint: disable=protected-access


def run_module_main(module_name: str, arguments: bytes, *, environment: dict[str, str] | None = None) -> dict[str, t.Any]:
    """Run `main()` of certforge.acme's module `module_name`; returns what a module process gives `_parse_returned_data`."""
    output, errors = io.StringIO(), io.StringIO()
    # What a module process writes to stderr (urllib3's InsecureRequestWarning, say) stays out of the console, as there.
    with like_a_module_process(arguments, environment or {}), contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors):
        try:
            importlib.import_module(f"{MODULE_PACKAGE}.{module_name}").main()
        except SystemExit as done:
            rc = done.code if isinstance(done.code, int) else 1
        except Exception as error:  # pylint: disable=broad-exception-caught
            # A bug in the module: report it as a crashed module process would, with its traceback.
            encoder = get_module_encoder(SERIALIZATION_PROFILE, Direction.MODULE_TO_CONTROLLER)
            failure = {"failed": True, "msg": f"{module_name} crashed: {type(error).__name__}: {error}", "exception": traceback.format_exc()}
            print(json.dumps(failure, cls=encoder))
            rc = 1
        else:
            print(json.dumps({"failed": True, "msg": f"{module_name} ended without a result"}))
            rc = 1
    return {"rc": rc, "stdout": output.getvalue(), "stderr": errors.getvalue()}


class ControllerStepAction(ActionBase):
    """The action of one module: its code in this process when the task runs on the controller, else the module."""

    _supports_check_mode = True  # the module decides, as it does in its own process
    _supports_async = True
    module_name = ""  # set by each action plugin
    # What the module imports beyond Ansible, checked in the controller's Python before its code runs there.
    libraries: tuple[str, ...] = CA_LIBRARIES

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars if task_vars is not None else {}
        result = super().run(tmp, task_vars)
        del tmp  # unused, as in every action since ansible-core 2.7
        refusal = in_process_refusal(
            wanted=self._templar.template(task_vars.get(IN_PROCESS_VARIABLE, True)),
            connection=str(self._connection.transport),
            become=bool(self._play_context.become),
            async_seconds=int(self._task.async_val or 0),
            interpreter=self._explicit_interpreter(task_vars),
            libraries=self.libraries,
        )
        if refusal is None:
            display.vvv(f"certforge.acme: {self.module_name} runs in the controller's process")
            return merge_hash(result, self._run_in_process(task_vars))
        display.vvv(f"certforge.acme: {self.module_name} runs as a module process: {refusal}")
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)  # pylint: disable=protected-access
        return result

    def _explicit_interpreter(self, task_vars: dict[str, t.Any]) -> str | None:
        """The ansible_python_interpreter of the host the task runs on (the delegated one too), when one is set."""
        host_vars = task_vars
        if self._task.delegate_to:
            host_vars = task_vars.get("ansible_delegated_vars", {}).get(self._task.delegate_to, task_vars)
        interpreter = host_vars.get("ansible_python_interpreter")
        return None if interpreter is None else str(self._templar.template(interpreter))

    def _run_in_process(self, task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        module_args = dict(self._task.args)
        self._update_module_args(self._task.action, module_args, task_vars)
        environment: dict[str, str] = {}
        self._compute_environment_string(environment)  # the task's `environment:` applies here too
        output = run_module_main(self.module_name, module_arguments_json(module_args), environment=environment)
        data = self._parse_returned_data(output, SERIALIZATION_PROFILE)
        data.pop("_ansible_suppress_tmpdir_delete", None)
        remove_internal_keys(data)
        return data
