# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns-01 TXT records (RFC 8555 section 8.4) by RFC 2136 dynamic update, signed with TSIG (RFC 8945).

Nothing here knows AnsibleModule: the module `acme_dns_rfc2136` only reads its options and
calls these steps, and the unit tests drive them with dnspython messages and a fake exchange.

- The zone of a record is found by asking the primary for the SOA of each name from the
  record upwards; RFC 2136 section 4 leaves finding the zone to the requestor.
- `present` adds the wanted values that are missing (RFC 2136 section 2.5.1), in one update
  per zone, and leaves other values alone: hosts validating the same name at once (a wildcard
  and its base name on two hosts) must not erase each other's values. With `exclusive`, it
  replaces each TXT RRset with exactly the wanted values instead (sections 2.5.2 and 2.5.1),
  so values left over from interrupted runs disappear and answers stay small.
- `absent` deletes only the given values (RFC 2136 section 2.5.4): another order may have
  added its own value at the same name in the meantime.
- Before the CA looks, every authoritative name server must serve the values, because the CA
  may ask any of them; each is asked directly and without recursion.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import socket
import typing as t

from ansible_collections.certforge.acme.plugins.module_utils._acme.errors import AcmeError, ConfigurationError
from ansible_collections.certforge.acme.plugins.module_utils._acme.polling import WaitTimeout, poll

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rdtypes.ANY.TXT
    import dns.tsig
    import dns.update
    import dns.version
except ImportError:
    pass  # reported by deps.missing_libraries("dnspython") before any of this runs

# key_algorithm -> the algorithm's name in the TSIG record (RFC 8945 section 6).
TSIG_ALGORITHMS = {
    "hmac-sha256": "hmac-sha256.",
    "hmac-sha384": "hmac-sha384.",
    "hmac-sha512": "hmac-sha512.",
    "hmac-sha224": "hmac-sha224.",
    "hmac-sha1": "hmac-sha1.",
    "hmac-md5": "hmac-md5.sig-alg.reg.int.",
}

# One character-string of a TXT record holds at most 255 octets (RFC 1035 section 3.3.14).
TXT_STRING_MAX = 255
# Never ask with less time than this, even close to the propagation deadline.
MIN_QUERY_TIMEOUT = 0.2


class DnsError(AcmeError):
    """A DNS server could not be reached or said no; the message starts with the option to look at."""


class NoAnswer(Exception):
    """A name server could not be asked: no route, connection refused, timeout, or garbage back."""


@dataclasses.dataclass(frozen=True)
class Nameserver:
    """Where to send DNS messages; `name` is the host name it was known by, for messages."""

    address: str
    port: int
    name: str = ""

    @property
    def endpoint(self) -> str:
        """`address:port`, IPv6 addresses in brackets: the form the nameservers option takes."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        if self.name and self.name != self.address:
            return f"{self.name} ({self.endpoint})"
        return self.endpoint


Exchange = t.Callable[..., "dns.message.Message"]
Resolve = t.Callable[[str, int], t.List[str]]


def exchange(message: dns.message.Message, nameserver: Nameserver, *, timeout: float, tcp: bool = False) -> dns.message.Message:
    """Send one message and return the answer: UDP, or TCP when asked or when the UDP answer is truncated (RFC 7766)."""
    try:
        if not tcp:
            family = socket.AF_INET6 if ":" in nameserver.address else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                # A connected socket hears ICMP "port unreachable", so a closed port fails at once, not at the timeout.
                sock.setblocking(False)
                sock.connect((nameserver.address, nameserver.port))
                response = dns.query.udp(message, nameserver.address, timeout=timeout, port=nameserver.port, sock=sock)
            if not response.flags & dns.flags.TC:
                return response
        return dns.query.tcp(message, nameserver.address, timeout=timeout, port=nameserver.port)
    except dns.exception.Timeout:
        raise NoAnswer(f"no answer within {round(timeout, 1):g} seconds") from None
    except (dns.exception.FormError, dns.query.UnexpectedSource, EOFError) as error:
        raise NoAnswer(f"unusable answer ({error or type(error).__name__})") from None
    except OSError as error:
        raise NoAnswer(error.strerror or str(error)) from None


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` from this machine's resolver, in its order of preference."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def split_host_port(text: str, *, default_port: int, option: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ConfigurationError(f"{text!r} is not host, host:port or [IPv6]:port", option=option)
        colon, port_text = rest[:1], rest[1:]
    elif text.count(":") == 1:
        host, colon, port_text = text.partition(":")
    else:
        host, colon, port_text = text, "", ""
    if not host:
        raise ConfigurationError(f"{text!r} has no host", option=option)
    if not colon:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(f"{text!r} has no valid port (1-65535) after the colon", option=option)
    return host, int(port_text)


def nameserver_at(host: str, port: int, *, option: str, resolve: Resolve = system_resolve) -> Nameserver:
    """A Nameserver for an IP address or a host name (resolved by this machine)."""
    try:
        return Nameserver(address=str(ipaddress.ip_address(host)), port=port)
    except ValueError:
        pass
    addresses = resolve(host, port)
    if not addresses:
        raise ConfigurationError(f"cannot resolve {host!r} to an address on this host; give an IP address", option=option)
    return Nameserver(address=addresses[0], port=port, name=host)


def tsig_key(*, name: str, secret: str, algorithm: str) -> dns.tsig.Key:
    """The TSIG key from the key_name, key_secret (base64) and key_algorithm options."""
    try:
        secret_bytes = base64.b64decode("".join(secret.split()), validate=True)
    except (binascii.Error, ValueError):
        # Never echo the secret, not even a part of it.
        raise ConfigurationError("is not valid base64; give the secret exactly as tsig-keygen printed it", option="key_secret") from None
    if not secret_bytes:
        raise ConfigurationError("is empty", option="key_secret")
    try:
        key_name = dns.name.from_text(name)
    except dns.exception.DNSException as error:
        raise ConfigurationError(f"{name!r} is not a valid key name ({error})", option="key_name") from None
    return dns.tsig.Key(key_name, secret_bytes, TSIG_ALGORITHMS[algorithm])


def display(name: dns.name.Name) -> str:
    """A DNS name as results and messages show it: without the final dot."""
    return name.to_text(omit_final_dot=True)


def parse_name(text: str, *, option: str) -> dns.name.Name:
    """An absolute DNS name, whether or not `text` ends with a dot."""
    try:
        name = dns.name.from_text(str(text).strip())
    except dns.exception.DNSException as error:
        raise ConfigurationError(f"{text!r} is not a DNS name ({error})", option=option) from None
    if name == dns.name.root:
        raise ConfigurationError("the root name cannot carry dns-01 records", option=option)
    return name


def parse_records(records: t.Mapping[str, t.Any]) -> dict[dns.name.Name, list[str]]:
    """The records option (record name -> values, as acme_order's challenge_data_dns) -> absolute name -> unique values."""
    parsed: dict[dns.name.Name, list[str]] = {}
    for name_text, values in records.items():
        name = parse_name(name_text, option="records")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, (list, tuple)):
            raise ConfigurationError(f"{name_text}: expected a list of TXT values, found {type(values).__name__}", option="records")
        wanted = parsed.setdefault(name, [])
        for value in values:
            if value is None or isinstance(value, (dict, list, tuple)):
                raise ConfigurationError(f"{name_text}: a TXT value must be a string, found {type(value).__name__}", option="records")
            if str(value) not in wanted:
                wanted.append(str(value))
    return parsed


def txt_rdata(value: str) -> dns.rdtypes.ANY.TXT.TXT:
    """A TXT record holding `value` as is; longer values are split into 255-octet strings."""
    data = value.encode("utf-8")
    strings = [data[start : start + TXT_STRING_MAX] for start in range(0, len(data), TXT_STRING_MAX)] or [b""]
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings)


def answer_values(response: dns.message.Message, name: dns.name.Name) -> list[str]:
    """The TXT values at `name` in an answer, each record's strings joined (as the CA reads them)."""
    values = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.TXT and rrset.name == name:
            for rdata in rrset:
                values.append(b"".join(rdata.strings).decode("utf-8", errors="backslashreplace"))
    return values


def alias_target(response: dns.message.Message, name: dns.name.Name) -> dns.name.Name | None:
    """The CNAME target of `name` when the answer says it is an alias."""
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == name:
            return rrset[0].target
    return None


def is_referral(response: dns.message.Message) -> bool:
    """A non-authoritative answer that points to the name servers of a child zone."""
    return (
        response.rcode() == dns.rcode.NOERROR
        and not response.flags & dns.flags.AA
        and not response.answer
        and any(rrset.rdtype == dns.rdatatype.NS for rrset in response.authority)
    )


def new_query(name: dns.name.Name, rdtype: dns.rdatatype.RdataType, *, recursive: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    if not recursive:
        query.flags &= ~dns.flags.RD
    return query


class Primary:
    """The name server that takes the updates (the server option); also asked what it serves now.

    Every message to it is signed when there is a key, so a wrong key shows up on the
    first query, in check mode too.
    """

    def __init__(self, nameserver: Nameserver, *, key: dns.tsig.Key | None, timeout: float, exchange_with: Exchange = exchange) -> None:
        self.nameserver = nameserver
        self.key = key
        self.timeout = timeout
        self._exchange = exchange_with

    def ask(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, *, recursive: bool = False) -> dns.message.Message:
        query = new_query(name, rdtype, recursive=recursive)
        if self.key is not None:
            query.use_tsig(self.key)
        return self._send(query)

    def _send(self, message: dns.message.Message, *, tcp: bool = False) -> dns.message.Message:
        try:
            return self._exchange(message, self.nameserver, timeout=self.timeout, tcp=tcp)
        except NoAnswer as error:
            raise DnsError(f"server: cannot reach {self.nameserver}: {error}; check server and port") from None
        except dns.tsig.PeerBadKey:
            raise DnsError(self._key_rejected("BADKEY: it does not know a key of this name and key_algorithm")) from None
        except dns.tsig.PeerBadSignature:
            raise DnsError(self._key_rejected("BADSIG: the signature does not match, so the secret differs")) from None
        except dns.tsig.PeerBadTime:
            raise DnsError(
                f"key_name/key_secret: {self.nameserver} rejects the time of the signature (BADTIME); "
                "the clocks of this host and the server differ by more than 5 minutes"
            ) from None
        except dns.tsig.PeerError as error:
            raise DnsError(self._key_rejected(str(error) or type(error).__name__)) from None
        except (dns.tsig.BadSignature, dns.tsig.BadKey, dns.tsig.BadAlgorithm, dns.tsig.BadTime, dns.message.UnknownTSIGKey) as error:
            raise DnsError(
                f"server: the answer of {self.nameserver} does not verify with key_name/key_secret ({type(error).__name__}); "
                "is something between this host and the server changing the messages?"
            ) from None

    def _key_rejected(self, reason: str) -> str:
        return (
            f"key_name/key_secret rejected by the server {self.nameserver} ({reason}); "
            f"check that the server has key {display(self.key.name) if self.key else '?'} with this secret and key_algorithm"
        )

    def find_zone(self, name: dns.name.Name, *, known: dict[dns.name.Name, bool] | None = None) -> dns.name.Name:
        """The zone of `name` on this server: the closest enclosing name it answers SOA for with authority.

        `known` caches, across records, which names are zone apexes.
        """
        known = {} if known is None else known
        candidate = name
        while len(candidate) > 1:  # never the root zone
            if candidate not in known:
                response = self.ask(candidate, dns.rdatatype.SOA)
                if is_referral(response):
                    delegated = next(rrset.name for rrset in response.authority if rrset.rdtype == dns.rdatatype.NS)
                    raise DnsError(
                        f"zone: {self.nameserver} delegates {display(delegated)} to other name servers, so it cannot update "
                        f"{display(name)}; set server to the primary of {display(delegated)}"
                    )
                known[candidate] = bool(
                    response.rcode() == dns.rcode.NOERROR
                    and response.flags & dns.flags.AA
                    and any(rrset.rdtype == dns.rdatatype.SOA and rrset.name == candidate for rrset in response.answer)
                )
            if known[candidate]:
                return candidate
            candidate = candidate.parent()
        raise DnsError(
            f"zone: {self.nameserver} is authoritative for no zone that contains {display(name)}; point server at the primary of that zone, or set zone"
        )

    def txt_values(self, name: dns.name.Name) -> list[str]:
        """The TXT values the server serves at `name` now."""
        response = self.ask(name, dns.rdatatype.TXT)
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise DnsError(
                f"server: {self.nameserver} answers {dns.rcode.to_text(rcode)} when asked for the TXT records of {display(name)}; "
                "is it the primary of the zone, and may this host query it?"
            )
        target = alias_target(response, name)
        if target is not None:
            raise DnsError(
                f"records: {display(name)} is an alias (CNAME) of {display(target)}; set follow_cname to true, or give {display(target)} as the record name"
            )
        return answer_values(response, name)

    def update(self, message: dns.update.UpdateMessage) -> None:
        """Send an update over TCP and fail unless the server applied it."""
        response = self._send(message, tcp=True)
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        zone = display(message.zone[0].name)
        reason = dns.rcode.to_text(rcode)
        if rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH):
            if self.key is None:
                raise DnsError(
                    f"key_name: {self.nameserver} refused the unsigned update of zone {zone} ({reason}); "
                    "set key_name and key_secret to a TSIG key that may update the zone, or check zone"
                )
            raise DnsError(
                f"key_name: {self.nameserver} refused the update of zone {zone} ({reason}): the zone does not accept updates "
                f"signed with key {display(self.key.name)}; allow them on the server (allow-update or update-policy), or check zone"
            )
        if rcode == dns.rcode.NOTZONE:
            raise DnsError(f"records: {self.nameserver} says a record name is outside zone {zone} ({reason}); check zone")
        raise DnsError(f"server: {self.nameserver} answered {reason} to the update of zone {zone}; see the server's log")

    def nameservers_of(self, zone: dns.name.Name, *, port: int, resolve: Resolve = system_resolve) -> list[Nameserver]:
        """The zone's NS hosts, each at its addresses: from the server, else from this machine's resolver."""
        response = self.ask(zone, dns.rdatatype.NS)
        hosts = [rdata.target for rrset in response.answer if rrset.rdtype == dns.rdatatype.NS and rrset.name == zone for rdata in rrset]
        if not hosts:
            raise DnsError(f"nameservers: {self.nameserver} lists no NS records for zone {display(zone)}; set nameservers")
        nameservers: list[Nameserver] = []
        for host in hosts:
            addresses = self.addresses_of(host) or resolve(display(host), port)
            if not addresses:
                raise DnsError(
                    f"nameservers: cannot find the address of {display(host)}, a name server of zone {display(zone)}, "
                    "neither at server nor with this host's resolver; list the name servers to check in nameservers"
                )
            nameservers.extend(Nameserver(address=address, port=port, name=display(host)) for address in addresses)
        return nameservers

    def addresses_of(self, host: dns.name.Name) -> list[str]:
        """The IPv4 addresses of `host` the server knows, else its IPv6 addresses, else none."""
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            # Recursion desired: a primary that also resolves can answer for hosts outside its zones.
            response = self.ask(host, rdtype, recursive=True)
            if response.rcode() != dns.rcode.NOERROR:
                continue
            addresses = [rdata.address for rrset in response.answer if rrset.rdtype == rdtype for rdata in rrset]
            if addresses:
                return addresses
        return []


def find_zones(
    primary: Primary, records: t.Mapping[dns.name.Name, list[str]], *, zone: dns.name.Name | None
) -> dict[dns.name.Name, dict[dns.name.Name, list[str]]]:
    """Group the records by zone: the zone option when given, else the zone the server says each name is in."""
    zones: dict[dns.name.Name, dict[dns.name.Name, list[str]]] = {}
    known: dict[dns.name.Name, bool] = {}
    for name, values in records.items():
        if zone is not None and not name.is_subdomain(zone):
            raise ConfigurationError(f"{display(name)} is not in zone {display(zone)}", option="records")
        record_zone = zone if zone is not None else primary.find_zone(name, known=known)
        zones.setdefault(record_zone, {})[name] = values
    return zones


@dataclasses.dataclass
class ZoneChange:
    """What the primary serves at the records of one zone, before and after the wanted state."""

    zone: dns.name.Name
    before: dict[dns.name.Name, list[str]]
    after: dict[dns.name.Name, list[str]]

    @property
    def changed_names(self) -> list[dns.name.Name]:
        return [name for name, values in self.after.items() if set(values) != set(self.before[name])]


def plan_change(
    zone: dns.name.Name,
    current: dict[dns.name.Name, list[str]],
    given: t.Mapping[dns.name.Name, list[str]],
    *,
    state: str,
    exclusive: bool = False,
) -> ZoneChange:
    """present: what is there plus the given values (exclusive: exactly them); absent: what is there, less the given values."""
    if state == "present" and exclusive:
        after = {name: list(values) for name, values in given.items()}
    elif state == "present":
        after = {name: current[name] + [value for value in values if value not in current[name]] for name, values in given.items()}
    else:
        after = {name: [value for value in current[name] if value not in given[name]] for name in given}
    return ZoneChange(zone=zone, before=current, after=after)


def update_message(change: ZoneChange, *, state: str, ttl: int, key: dns.tsig.Key | None, exclusive: bool = False) -> dns.update.UpdateMessage | None:
    """One update for the zone: present adds the missing values (exclusive: replaces each changed RRset),
    absent deletes only the values that go."""
    names = change.changed_names
    if not names:
        return None
    message = dns.update.UpdateMessage(change.zone, keyring=key)
    for name in names:
        if state == "absent":
            gone = [value for value in change.before[name] if value not in change.after[name]]
            message.delete(name, *(txt_rdata(value) for value in gone))
        elif not exclusive:
            message.add(name, ttl, *(txt_rdata(value) for value in change.after[name] if value not in change.before[name]))
        elif change.after[name]:
            message.replace(name, ttl, *(txt_rdata(value) for value in change.after[name]))
        else:
            message.delete(name, dns.rdatatype.TXT)
    return message


@dataclasses.dataclass
class Outcome:
    """What a run did: the zones, and per record the values before and now (or in check mode: would be)."""

    changed: bool
    zones: list[dns.name.Name]
    before: dict[dns.name.Name, list[str]]
    records: dict[dns.name.Name, list[str]]


def apply_records(
    primary: Primary,
    zones: t.Mapping[dns.name.Name, t.Mapping[dns.name.Name, list[str]]],
    *,
    state: str,
    ttl: int,
    check_mode: bool,
    exclusive: bool = False,
) -> Outcome:
    """Read what the primary serves, and send one update per zone where it differs from the wanted state."""
    outcome = Outcome(changed=False, zones=list(zones), before={}, records={})
    for zone, given in zones.items():
        current = {name: primary.txt_values(name) for name in given}
        change = plan_change(zone, current, given, state=state, exclusive=exclusive)
        message = update_message(change, state=state, ttl=ttl, key=primary.key, exclusive=exclusive)
        served = change.after
        if message is not None:
            outcome.changed = True
            if not check_mode:
                primary.update(message)
                served = {name: primary.txt_values(name) for name in given}
        outcome.before.update(current)
        outcome.records.update(served)
    return outcome


PropagationTarget = t.Tuple[Nameserver, t.Mapping["dns.name.Name", t.Sequence[str]]]


def propagation_targets(
    primary: Primary,
    zones: t.Mapping[dns.name.Name, t.Mapping[dns.name.Name, list[str]]],
    *,
    nameservers: t.Sequence[str] | None,
    port: int,
    resolve: Resolve = system_resolve,
) -> t.Sequence[PropagationTarget]:
    """Each name server to check with the records it must serve: the nameservers option with all of them, else each zone's NS."""
    if nameservers:
        every_record = {name: values for given in zones.values() for name, values in given.items()}
        targets = []
        for text in nameservers:
            host, host_port = split_host_port(text, default_port=port, option="nameservers")
            targets.append((nameserver_at(host, host_port, option="nameservers", resolve=resolve), every_record))
        return targets
    by_nameserver: dict[tuple[str, int], tuple[Nameserver, dict[dns.name.Name, list[str]]]] = {}
    for zone, given in zones.items():
        for nameserver in primary.nameservers_of(zone, port=port, resolve=resolve):
            _known, wanted = by_nameserver.setdefault((nameserver.address, nameserver.port), (nameserver, {}))
            wanted.update(given)
    return list(by_nameserver.values())


def missing_at(nameserver: Nameserver, wanted: t.Mapping[dns.name.Name, t.Sequence[str]], *, timeout: float, exchange_with: Exchange = exchange) -> str | None:
    """What `nameserver` does not serve yet, in words, or None when it serves every wanted value."""
    lacking = []
    for name, values in wanted.items():
        try:
            response = exchange_with(new_query(name, dns.rdatatype.TXT), nameserver, timeout=timeout)
        except NoAnswer as error:
            return f"{nameserver}: {error}"
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return f"{nameserver} answers {dns.rcode.to_text(rcode)} for {display(name)}"
        served = set(answer_values(response, name))
        missing = [value for value in values if value not in served]
        if missing:
            lacking.append(f"{display(name)} ({len(missing)} of {len(values)} values missing)")
    return f"{nameserver} lacks {', '.join(lacking)}" if lacking else None


def wait_for_propagation(
    targets: t.Sequence[PropagationTarget],
    *,
    timeout: float,
    query_timeout: float,
    sleep: t.Callable[[float], None],
    clock: t.Callable[[], float],
    exchange_with: Exchange = exchange,
) -> None:
    """Ask the name servers, with backoff, until each serves all its wanted values; fail at the deadline.

    A server that has everything is not asked again. No query may outlast the deadline.
    """
    pending = list(targets)
    deadline = clock() + timeout

    def check() -> tuple[list[str], bool, None]:
        still_pending, problems = [], []
        for nameserver, wanted in pending:
            query_time = min(query_timeout, max(deadline - clock(), MIN_QUERY_TIMEOUT))
            problem = missing_at(nameserver, wanted, timeout=query_time, exchange_with=exchange_with)
            if problem is not None:
                still_pending.append((nameserver, wanted))
                problems.append(problem)
        pending[:] = still_pending
        return problems, not still_pending, None

    try:
        poll(check, timeout=timeout, sleep=sleep, clock=clock, what="the name servers")
    except WaitTimeout as error:
        raise DnsError(
            f"propagation_timeout: after {timeout:g} seconds, not every name server serves the records: {'; '.join(error.last)}; "
            "check that these servers get the zone from the primary (NOTIFY, zone transfers), or raise propagation_timeout"
        ) from None
