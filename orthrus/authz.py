"""KDC-signed authorization data: a JWS (RFC 7515, EdDSA per RFC 8037) inside each ticket.

The KDC signs the client's name, groups and the ticket's times, bound to the service and to
a hash of the ticket's session key, with a key only the KDC holds. A service checks it with
the KDC's public keys (a JWKS, RFC 7517). Whoever steals a service's long-term key can then
decrypt and re-encrypt tickets for that service, but cannot mint one claiming other groups,
another client or a longer life: the "silver ticket" is refused (RFC 4120 §5.2.6 lets
authorization data carry such KDC-issued elements; this plays the role of a signed PAC).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from orthrus.b64 import b64u_encode
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import Key
from orthrus.messages import EncTicketPart
from orthrus.principal import Principal

__all__ = [
    "ALGORITHM",
    "AuthzClaims",
    "AuthzSigner",
    "AuthzVerifier",
    "claimed_factors",
    "session_key_hash",
]

ALGORITHM = "EdDSA"
#: ``json.dumps(..., separators=(",", ":"))``, as pyjwt writes a payload, without a new
#: encoder for every ticket.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def session_key_hash(key: Key) -> str:
    """The value of the ``ckey`` claim: unpadded base64url of
    SHA-256(``b"orthrus/authz/ckey|"`` + the session key's 32 bytes) (docs/protocol.md)."""
    return _ckey(key.material)


def _ckey(material: bytes) -> str:
    return b64u_encode(hashlib.sha256(b"orthrus/authz/ckey|" + material).digest())


@dataclass(frozen=True, slots=True)
class AuthzClaims:
    """What the KDC vouched for besides the ticket's own fields: the client's groups, the
    factors of its login besides the long-term key (``auth_factors``: ``("otp",)`` after a
    one-time code, RFC 6238), and the service that asked for the ticket in the client's name
    (``delegated_by``, claim ``dlg``; constrained delegation, MS-SFU §3.2.5.2.2), None for a
    ticket the client asked for itself."""

    groups: tuple[str, ...]
    factors: tuple[str, ...] = ()
    delegated_by: Principal | None = None


@dataclass(frozen=True, slots=True)
class AuthzSigner:
    """The KDC's signing key (never leaves the KDC) and its key id."""

    private_key: Ed25519PrivateKey
    kid: str
    realm: str
    _header: bytes = field(init=False, repr=False, compare=False)
    _verifier: AuthzVerifier = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_verifier", AuthzVerifier(self.jwks(), self.realm))
        # The protected header pyjwt would write (sorted keys, compact), encoded once.
        header = {"alg": ALGORITHM, "kid": self.kid, "typ": "JWT"}
        encoded = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
        object.__setattr__(self, "_header", b64u_encode(encoded).encode("ascii"))

    def sign(
        self,
        ticket: EncTicketPart,
        server: Principal,
        groups: tuple[str, ...],
        factors: tuple[str, ...] = (),
        delegated_by: Principal | None = None,
    ) -> str:
        """Sign the claims for ``ticket`` issued to ``server`` (and ``dlg``, the service that
        asked for it in the client's name, if one did): a compact JWS (RFC 7515),
        EdDSA (RFC 8037), byte for byte what ``jwt.encode(claims, key, "EdDSA",
        headers={"kid": kid})`` gives (Ed25519 signatures are deterministic) without
        pyjwt's per-call key and header checks, which cost a third of the signature.
        ``auth_factors`` is present only when a factor besides the key was proven."""
        claims = {
            "iss": self.realm,
            "sub": str(ticket.client),
            "aud": str(server),
            "groups": list(groups),
            "iat": ticket.authtime,
            "nbf": ticket.starttime,
            "exp": ticket.endtime,
            "ckey": _ckey(ticket.key.value),
        }
        if factors:
            claims["auth_factors"] = list(factors)
        if delegated_by is not None:
            claims["dlg"] = str(delegated_by)
        payload = b64u_encode(_COMPACT.encode(claims).encode())
        signing_input = self._header + b"." + payload.encode("ascii")
        signature = b64u_encode(self.private_key.sign(signing_input))
        return f"{signing_input.decode('ascii')}.{signature}"

    def verify_own(
        self, ticket: EncTicketPart, server: Principal, max_skew: int, now: float
    ) -> AuthzClaims:
        """The claims of a ticket this KDC signed (the TGS checks a TGT, and the evidence
        ticket of a delegation, with it); see :meth:`AuthzVerifier.verify`."""
        return self._verifier.claims(ticket, server, max_skew, now)

    def jwks(self) -> dict[str, Any]:
        """The public half as a JWKS, for services (``/.well-known/orthrus/jwks.json``)."""
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}]}


class AuthzVerifier:
    """Checks a ticket's authorization data against the KDC's JWKS (algorithm pinned)."""

    def __init__(self, jwks: Mapping[str, Any], realm: str) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for jwk in jwks.get("keys", []):
            key = jwt.PyJWK(dict(jwk), algorithm=ALGORITHM).key
            if isinstance(key, Ed25519PublicKey) and isinstance(jwk.get("kid"), str):
                self._keys[jwk["kid"]] = key
        self._realm = realm

    def verify(
        self, ticket: EncTicketPart, server: Principal, max_skew: int, now: float | None = None
    ) -> tuple[str, ...]:
        """The groups the KDC vouched for; see :meth:`claims`."""
        return self.claims(ticket, server, max_skew, now).groups

    def claims(
        self, ticket: EncTicketPart, server: Principal, max_skew: int, now: float | None = None
    ) -> AuthzClaims:
        """What the KDC vouched for; ``KRB_AP_ERR_MODIFIED`` if the data is not the KDC's.

        The signature must verify (EdDSA only) under the JWKS key named by ``kid``; ``iss``
        is the realm, ``aud`` the server; ``sub``, ``iat``, ``nbf``, ``exp`` and ``ckey`` are
        the ticket's client, authtime, starttime, endtime and session key hash.

        ``now`` is the verifier's clock, as everywhere in the core; without it (older callers)
        pyjwt checks ``exp``/``nbf``/``iat`` against the wall clock.
        """
        token = ticket.authorization_data
        if token is None:
            raise _not_signed("the ticket carries no KDC-signed authorization data")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise _not_signed("the authorization data is signed by an unknown KDC key")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=str(server),
                issuer=self._realm,
                leeway=max_skew,
                options={
                    "require": ["iss", "sub", "aud", "exp", "nbf", "iat"],
                    "verify_exp": now is None,
                    "verify_nbf": now is None,
                    "verify_iat": now is None,
                },
            )
        except jwt.PyJWTError as exc:
            raise _not_signed(f"the authorization data does not verify ({exc})") from exc
        expected_ckey = _ckey(ticket.key.value)
        # Every ticket field the KDC signed must be the ticket's: otherwise whoever holds the
        # service key re-seals a genuine ticket with another authtime or starttime (a login
        # that looks fresh), which the application reads from the ticket.
        if (
            claims.get("sub") != str(ticket.client)
            or claims.get("iat") != ticket.authtime
            or claims.get("nbf") != ticket.starttime
            or claims.get("exp") != ticket.endtime
            or not isinstance(claims.get("ckey"), str)
            or not hmac.compare_digest(claims["ckey"], expected_ckey)
        ):
            raise _not_signed("the authorization data belongs to another ticket")
        nbf = claims.get("nbf")
        if now is not None and (
            not isinstance(nbf, int) or nbf - max_skew > now or now > ticket.endtime + max_skew
        ):
            raise _not_signed("the authorization data is not valid at this time")
        groups = claims.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise _not_signed("the authorization data has no list of groups")
        factors = claims.get("auth_factors", [])
        if not isinstance(factors, list) or not all(isinstance(f, str) for f in factors):
            raise _not_signed("the authorization data's auth_factors is not a list of names")
        return AuthzClaims(tuple(groups), tuple(factors), _delegated_by(claims.get("dlg")))


def claimed_factors(ticket: EncTicketPart) -> tuple[str, ...]:
    """The ``auth_factors`` of a ticket whose authorization data was already verified
    (the TGS passes them from a TGT it checked, or remembered checked, to the tickets it
    issues with it); the signature is not checked again here."""
    token = ticket.authorization_data
    if token is None:
        return ()
    claims = jwt.decode(token, options={"verify_signature": False})
    factors = claims.get("auth_factors", [])
    return tuple(f for f in factors if isinstance(f, str)) if isinstance(factors, list) else ()


def _delegated_by(claim: object) -> Principal | None:
    """The ``dlg`` claim as a principal (absent: None)."""
    if claim is None:
        return None
    try:
        return Principal.parse(claim)  # type: ignore[arg-type]  # checked: not text is refused
    except MalformedMessage as exc:
        raise _not_signed(
            f"the authorization data names no valid delegating service ({exc})"
        ) from None


def _not_signed(why: str) -> APError:
    return APError(
        "KRB_AP_ERR_MODIFIED",
        f"{why}: the ticket was not issued by the KDC as it stands (forged or altered)",
    )
