# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Following `_acme-challenge` aliases (CNAME) to the zone where dns-01 records really go.

Operators delegate validation by pointing `_acme-challenge.<name>` at a name in a zone of its own
(`_acme-challenge.www.example.com CNAME www.acme-validation.example.net`), so that the update key
may change only that zone. The CA follows the alias when it looks up the TXT record (RFC 8555
section 8.4 asks it to resolve the name as usual), so the values must be published at its target.

The primary is asked first, without recursion: it usually holds the zone of the alias. When it is
not authoritative for a name, this host's resolver answers instead.
"""

from __future__ import annotations

import typing as t

from ansible_collections.certforge.acme.plugins.module_utils.dns_rfc2136 import DnsError, Primary, display

try:
    import dns.exception
    import dns.flags
    import dns.name
    import dns.rcode
    import dns.rdatatype
    import dns.resolver
except ImportError:
    pass  # reported by deps.missing_libraries("dnspython") before any of this runs

# Longer chains are a loop or a mistake; resolvers give up after a handful of hops too.
MAX_ALIAS_HOPS = 8

LookupAlias = t.Callable[["dns.name.Name"], t.Optional["dns.name.Name"]]


def resolver_alias(name: dns.name.Name) -> dns.name.Name | None:
    """The CNAME target of `name` from this host's resolver, or None when it is no alias."""
    try:
        answer = dns.resolver.resolve(name, dns.rdatatype.CNAME, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return None
    except dns.exception.DNSException as error:
        raise DnsError(
            f"follow_cname: cannot ask this host's resolver whether {display(name)} is an alias ({type(error).__name__}); "
            "point server at the primary of its zone, or set follow_cname to false and give the record name to update"
        ) from None
    return answer.rrset[0].target if answer.rrset else None


def alias_at_primary(primary: Primary, name: dns.name.Name, *, fallback: LookupAlias = resolver_alias) -> dns.name.Name | None:
    """The CNAME target of `name`: from the primary when it is authoritative for the name, else from `fallback`."""
    response = primary.ask(name, dns.rdatatype.CNAME)
    authoritative = response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) and bool(response.flags & dns.flags.AA)
    if not authoritative:
        return fallback(name)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == name:
            return rrset[0].target
    return None


def follow_aliases(
    primary: Primary, records: t.Mapping[dns.name.Name, list[str]], *, fallback: LookupAlias = resolver_alias
) -> tuple[dict[dns.name.Name, list[str]], dict[dns.name.Name, dns.name.Name]]:
    """The records moved to the end of each name's CNAME chain, and record name -> that end for each alias.

    Two record names aliased to one target share it: their values are merged there.
    """
    moved: dict[dns.name.Name, list[str]] = {}
    aliases: dict[dns.name.Name, dns.name.Name] = {}
    for name, values in records.items():
        target, seen = name, [name]
        while True:
            next_target = alias_at_primary(primary, target, fallback=fallback)
            if next_target is None:
                break
            if next_target in seen:
                chain = " -> ".join(display(hop) for hop in [*seen, next_target])
                raise DnsError(f"records: the aliases (CNAME) of {display(name)} form a loop: {chain}; fix the CNAME records")
            if len(seen) > MAX_ALIAS_HOPS:
                raise DnsError(
                    f"records: {display(name)} is an alias of an alias more than {MAX_ALIAS_HOPS} times; "
                    "point its CNAME straight at the name in the validation zone"
                )
            target = next_target
            seen.append(target)
        if target != name:
            aliases[name] = target
        wanted = moved.setdefault(target, [])
        wanted.extend(value for value in values if value not in wanted)
    return moved, aliases
