# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _fleet_report_markdown
short_description: The acme_certificate role's fleet report as Markdown (role internal)
description:
  - The rows of C(certforge.acme._fleet_report) as a Markdown document with one table, in their order
    (failures first, then by expiry).
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
positional: now, check_mode
options:
  _input:
    description: The rows.
    type: list
    elements: dict
    required: true
  now:
    description: When the report was made, as shown in its first line.
    type: str
    required: true
  check_mode:
    description: Whether the run was in check mode (an audit that changed nothing), as its first line says.
    type: bool
    default: false
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Write the report as Markdown
  ansible.builtin.copy:
    content: "{{ rows | certforge.acme._fleet_report_markdown(now(utc=true).isoformat(), ansible_check_mode) }}"
    dest: /srv/reports/certificates.md
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The Markdown text.
  type: str
"""

import typing as t


def _cell(value: t.Any) -> str:
    text = ", ".join(value) if isinstance(value, list) else ("" if value is None else str(value))
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


COLUMNS = (
    ("Host", "host"),
    ("Certificate", "name"),
    ("Names", "identifiers"),
    ("Issuer", "issuer"),
    ("Expires", "not_after"),
    ("Days left", "days_left"),
    ("Last action", "action"),
    ("Reason", "reason"),
    ("Failure", "failure"),
)


def fleet_report_markdown(rows: list[dict[str, t.Any]], now: str, check_mode: bool = False) -> str:
    """The rows as a Markdown document with one table."""
    failed = sorted({row["host"] for row in rows if row["failed"]})
    lines = [
        "# Certificates of the fleet",
        "",
        f"Written {now}{' by a check-mode run (an audit: nothing was changed)' if check_mode else ''}: {len(rows)} rows, "
        f"{len(failed)} host(s) with failures{': ' + ', '.join(failed) if failed else ''}.",
        "",
        "| " + " | ".join(title for title, _key in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_cell(row[key]) for _title, key in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_fleet_report_markdown": fleet_report_markdown}
