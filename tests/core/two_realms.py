"""Two in-memory realms that trust each other one way (A.TEST's users at B.TEST's services),
and forged cross-realm TGTs made with their shared key, for the cross-realm tests
(RFC 4120 §1.2, §3.3.3.2)."""

from __future__ import annotations

import dataclasses
import os

import msgspec
from core_realm import T0, CoreRealm
from support import credential_of

from orthrus.ap import seal_ticket
from orthrus.credentials import Credential
from orthrus.crossrealm import CrossRealmPolicy
from orthrus.keys import Key
from orthrus.messages import EncryptionKey, EncTicketPart, TicketFlag
from orthrus.principal import Principal
from orthrus.realm import PrincipalEntry

A, B = "A.TEST", "B.TEST"


class TwoRealms:
    """A.TEST (alice, group admins) and B.TEST (its own alice, group admins; HTTP/svc),
    sharing the key of ``krbtgt/B.TEST@A.TEST``."""

    def __init__(self) -> None:
        self.a, self.b = CoreRealm(A), CoreRealm(B)
        self.trust = Principal(("krbtgt", B), A)
        key = Key.generate(os.urandom, 1)
        for realm in (self.a, self.b):
            realm.entries[self.trust] = PrincipalEntry(self.trust, {1: key}, 1)
        self.alice = self.a.add_user("alice", "alice-pass", groups=("admins",))
        self.b.add_user("alice", "b-alice-pass", groups=("admins",))
        self.svc = self.b.add_service("HTTP/svc")

    def policy(self, **fields: object) -> None:
        """Set B.TEST's cross-realm policy (capaths, foreign_groups)."""
        policy = CrossRealmPolicy(**fields)  # type: ignore[arg-type]
        self.b.ctx = dataclasses.replace(self.b.ctx, cross_realm=policy)

    def cross_tgt(self, now: float = T0) -> Credential:
        """Alice logs in at A.TEST and asks it for the cross-realm TGT."""
        tgt = self.a.login(self.alice, self.a.user_key(self.alice, "alice-pass"), now)
        return self.a.service_ticket(tgt, self.trust, now)

    def forged(
        self,
        client: str,
        transited: str = "",
        server: Principal | None = None,
        flags: tuple[TicketFlag, ...] = ("pre-authent",),
        factors: tuple[str, ...] = (),
    ) -> Credential:
        """A cross-realm TGT made by whoever holds the trust key (A.TEST's KDC, honest or
        not), signed by A.TEST's KDC, for any client, path, flags and login factors it
        likes."""
        server = server or self.trust
        session = EncryptionKey.from_key(Key.generate(os.urandom))
        part = EncTicketPart(
            flags=list(flags),
            key=session,
            client=Principal.parse(client),
            authtime=int(T0),
            starttime=int(T0),
            endtime=int(T0) + 3600,
            transited=transited,
        )
        signed = self.a.signer.sign(part, server, ("admins",), factors)
        part = msgspec.structs.replace(part, authorization_data=signed)
        trusted = self.a.entries.get(server)
        key = trusted.current_key if trusted is not None else Key.generate(os.urandom, 1)
        return credential_of(part, seal_ticket(part, server, key, os.urandom))
