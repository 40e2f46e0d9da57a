# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: _fleet_report
short_description: The acme_certificate role's fleet report (role internal)
description:
  - One row per host and certificate from the C(acme_certificate_results) of every host of the play, failures first,
    then by expiry (soonest first); a host that exported no results gets one row with its failure. The role's
    C(report) entry point writes it as JSON, and as Markdown with C(certforge.acme._fleet_report_markdown).
  - Private to the C(certforge.acme.acme_certificate) role (role glue); its name and shape may change in any release.
  - The JSON file the role writes with it is the interface.
positional: outcomes, now
options:
  _input:
    description: The hosts of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  outcomes:
    description:
      - Host -> C(results) (its C(acme_certificate_results), or V(null) when it has none) and C(failure) (why the
        run failed on it before it exported them, or an empty string).
    type: dict
    required: true
  now:
    description: The time of the report (ISO 8601 with a time zone), from which the days left are counted.
    type: str
    required: true
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: The rows of the report
  ansible.builtin.set_fact:
    rows: "{{ ansible_play_hosts_all | certforge.acme._fleet_report(outcomes, now(utc=true).isoformat()) }}"
"""

RETURN = r"""
_value:
  description:
    - The rows - C(host), C(name), C(identifiers), C(issuer), C(not_after), C(days_left), C(action), C(reason),
      C(changed), C(failed), C(failure).
  type: list
  elements: dict
"""

import datetime
import math
import typing as t

NO_RESULTS = "the run failed on this host before the role reported its certificates; see the run's output"


def _expiry(row: dict[str, t.Any]) -> datetime.datetime | None:
    text = row.get("not_after")
    if not text:
        return None
    expiry = datetime.datetime.fromisoformat(str(text))
    return expiry if expiry.tzinfo else expiry.replace(tzinfo=datetime.timezone.utc)


def _row(host: str, result: dict[str, t.Any], now: datetime.datetime) -> dict[str, t.Any]:
    row = {
        "host": host,
        "name": result.get("name"),
        "identifiers": list(result.get("identifiers") or []),
        "issuer": result.get("issuer") or "",
        "not_after": result.get("not_after") or "",
        "days_left": None,
        "action": result.get("action") or "",
        "reason": result.get("reason") or "",
        "changed": bool(result.get("changed")),
        "failed": bool(result.get("failed")),
        "failure": result.get("failure") or "",
    }
    expiry = _expiry(row)
    if expiry is not None:
        row["days_left"] = math.floor((expiry - now).total_seconds() / 86400)
    return row


def _sort_key(row: dict[str, t.Any]) -> tuple[t.Any, ...]:
    # Failures first; then what has no certificate yet, then the soonest expiry.
    expiry = _expiry(row)
    return (not row["failed"], expiry is not None, expiry.timestamp() if expiry else 0.0, row["host"], row["name"] or "")


def fleet_report(hosts: list[str], outcomes: dict[str, dict[str, t.Any]], now: str) -> list[dict[str, t.Any]]:
    moment = datetime.datetime.fromisoformat(now)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
    rows = []
    for host in hosts:
        outcome = outcomes.get(host) or {}
        results = outcome.get("results")
        if results is None or outcome.get("failure") and not any(result.get("failed") for result in results):
            # No results, or a failure the role's results do not name: the host's own row says so.
            rows.append(_row(host, {"name": "", "failed": True, "failure": outcome.get("failure") or NO_RESULTS}, moment))
        rows.extend(_row(host, result, moment) for result in results or [])
    return sorted(rows, key=_sort_key)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"_fleet_report": fleet_report}
