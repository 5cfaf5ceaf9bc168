"""Cross-realm trust (RFC 4120 §1.2, §3.3.3.2): a TGT of another realm, and the path it came.

Two realms A and B trust each other in one direction when both hold the key of
``krbtgt/B@A``: A's TGS issues tickets for it (a cross-realm TGT), B's TGS accepts them as it
accepts its own TGTs. B believes a cross-realm TGT because of that shared key alone, so it
believes of it only what A may say: who the client is, if the client's realm is A or a
realm whose path through A this realm's ``capaths`` allow; never a client of B itself, and
never B's groups (a foreign client has only the groups B's ``foreign_groups`` map to it).

The ``transited`` field of a ticket lists the realms between the client's and the server's,
in DOMAIN-X500-COMPRESS (RFC 4120 §3.3.3.2). Each KDC that issues a ticket from a TGT it did
not issue itself adds the TGT's realm to it; the last KDC checks the whole path against its
policy and says so with the TRANSITED-POLICY-CHECKED flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from orthrus.errors import KDCError, MalformedMessage
from orthrus.principal import Principal

__all__ = [
    "DOMAIN_X500_COMPRESS",
    "MAX_TRANSITED_REALMS",
    "CrossRealmPolicy",
    "check_path",
    "decode_transited",
    "encode_transited",
    "issuing_realm",
    "next_transited",
]

#: ``tr-type`` of the only transited encoding RFC 4120 defines (§5.3, §3.3.3.2).
DOMAIN_X500_COMPRESS = 1
#: More realms than this on one path is refused: the peer controls the field.
MAX_TRANSITED_REALMS = 16


@dataclass(frozen=True, slots=True)
class CrossRealmPolicy:
    """What this realm believes of clients of other realms, and where other realms'
    services are (``kdc.toml``).

    ``capaths``: for a client realm, the realms its tickets may pass through, in order, to
    reach this one (MIT krb5.conf's ``[capaths]``, seen from the server's realm); a client of
    the realm that issued the cross-realm TGT needs no entry. ``foreign_groups``: the groups
    of this realm given to a foreign client, by exact name (``alice@A``) or for a whole
    realm (``*@A``); a foreign client has none otherwise.
    """

    capaths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    foreign_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Host names of other realms' services (MIT krb5.conf's ``[domain_realm]``: a name, or
    #: ``.suffix`` for every host under it), for referrals (RFC 6806 §8).
    domain_realm: Mapping[str, str] = field(default_factory=dict)

    def realm_of(self, server: Principal) -> str:
        """The realm ``server`` belongs to: the one its host maps to in ``domain_realm``
        (the exact name first, then the longest ``.suffix``), else the realm it names."""
        if len(server.components) != 2:
            return server.realm
        host = server.components[1].lower()
        if host in self.domain_realm:
            return self.domain_realm[host]
        labels = host.split(".")
        for start in range(1, len(labels)):
            suffix = "." + ".".join(labels[start:])
            if suffix in self.domain_realm:
                return self.domain_realm[suffix]
        return server.realm

    def groups_of(self, client: Principal) -> tuple[str, ...]:
        """The groups this realm gives ``client``, a principal of another realm."""
        exact = self.foreign_groups.get(str(client), ())
        whole_realm = self.foreign_groups.get(f"*@{client.realm}", ())
        return tuple(sorted(set(exact) | set(whole_realm)))


def issuing_realm(tgs: Principal, realm: str) -> str | None:
    """The realm that issued a TGT for ``tgs``, if it is a cross-realm TGT into ``realm``
    (``krbtgt/realm@OTHER``); None for this realm's own TGT or any other name."""
    if tgs.is_tgs and tgs.components[1] == realm and tgs.realm != realm:
        return tgs.realm
    return None


def _split(contents: str) -> list[str]:
    """The comma-separated names of ``contents``; ``\\`` quotes the next character."""
    names, current, quoted = [], [], False
    for char in contents:
        if quoted:
            current.append(char)
            quoted = False
        elif char == "\\":
            quoted = True
        elif char == ",":
            names.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise MalformedMessage("the transited field ends in a lone backslash")
    names.append("".join(current))
    return names


def decode_transited(contents: str) -> tuple[str, ...]:
    """The realms a DOMAIN-X500-COMPRESS ``contents`` lists, in order (RFC 4120 §3.3.3.2).

    A name ending in ``.`` is completed by the name before it (``EDU,MIT.`` is EDU, MIT.EDU);
    one beginning with ``/`` (X.500 style) by the name before it put in front. An empty name
    (the shorthand for "every realm of the hierarchy between", or for the client's or
    server's realm at either end) names no definite realm: it is refused
    (``MalformedMessage``), as is a path longer than :data:`MAX_TRANSITED_REALMS`.
    """
    if not contents:
        return ()
    realms: list[str] = []
    for name in _split(contents):
        if not name:
            raise MalformedMessage(
                "the transited field uses the hierarchy shorthand (an empty name), which "
                "names no definite realm"
            )
        if name.endswith(".") and realms:
            name += realms[-1]
        elif name.startswith("/") and realms:
            name = realms[-1] + name
        realms.append(name)
    if len(realms) > MAX_TRANSITED_REALMS:
        raise MalformedMessage(f"the transited field lists more than {MAX_TRANSITED_REALMS} realms")
    return tuple(realms)


def encode_transited(realms: tuple[str, ...]) -> str:
    """``realms`` in DOMAIN-X500-COMPRESS, uncompressed (each name in full; RFC 4120
    §3.3.3.2 allows it), with ``\\`` before a comma or backslash in a name."""
    return ",".join(r.replace("\\", "\\\\").replace(",", "\\,") for r in realms)


def next_transited(transited: str, client: Principal, issuer: str) -> tuple[str, ...]:
    """The path of a ticket issued from a TGT of ``issuer`` (RFC 4120 §3.3.3.2): the TGT's
    path, and ``issuer`` after it unless it is the client's own realm."""
    path = decode_transited(transited)
    return path if issuer == client.realm else (*path, issuer)


def check_path(
    client: Principal, path: tuple[str, ...], realm: str, policy: CrossRealmPolicy
) -> None:
    """Refuse a cross-realm TGT's client unless ``realm``'s policy accepts where it came
    from (``KDC_ERR_POLICY``, RFC 4120 §3.3.3.2): never a client of ``realm`` itself (only
    this realm's KDC speaks for them), and a path through other realms only as ``capaths``
    lists it for the client's realm."""
    if client.realm == realm:
        raise KDCError(
            "KDC_ERR_POLICY",
            f"a TGT of another realm names {client}, a principal of {realm}: only {realm}'s "
            "own KDC speaks for its principals; refused",
        )
    if not path:
        return
    allowed = policy.capaths.get(client.realm)
    if allowed is None or tuple(allowed) != path:
        route = " -> ".join((client.realm, *path, realm))
        raise KDCError(
            "KDC_ERR_POLICY",
            f"the ticket of {client} came {route}, a path {realm} does not trust; an "
            f"administrator of {realm} allows it in kdc.toml: [capaths] "
            f'"{client.realm}" = {list(path)}',
        )
