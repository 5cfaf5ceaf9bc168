"""The KDC's side of two-factor login (RFC 6238 TOTP, :mod:`orthrus.otp`): enrollment over
``POST /v1/otp/enroll`` (:mod:`orthrus.otp_enroll`) and the recovery codes, in the database.

The shared secret is sealed under the master key like the principal keys
(:mod:`kdc.keys_at_rest`, owner ``name#otp``); the recovery codes are kept as hashes only,
and a code is spent by deleting its row: of two logins racing with the same code, one
deletes it and the other finds nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import delete, select

from kdc.exchanges import ExchangeNames
from kdc.keys_at_rest import otp_owner
from kdc.models import OTPRecoveryCodeRow, PrincipalRow, utcnow
from kdc.store import Store
from orthrus import otp
from orthrus.ap import APRules, KeysFor
from orthrus.errors import KDCError
from orthrus.messages import EncTicketPart
from orthrus.otp_enroll import OTPEnrollRep, OTPEnrollReq, OTPEnrollResult, handle_otp_enroll_req
from orthrus.principal import Principal
from orthrus.realm import KDCContext

__all__ = ["OTPEnrollment", "StoredRecoveryCodes"]


@dataclass(frozen=True, slots=True)
class StoredRecoveryCodes:
    """:class:`orthrus.otp.RecoveryCodes` in the principal database."""

    store: Store

    def consume(self, principal: Principal, digest: str) -> bool:
        with self.store.transaction() as session:
            principal_id = select(PrincipalRow.id).where(PrincipalRow.name == str(principal))
            spent = session.execute(
                delete(OTPRecoveryCodeRow).where(
                    OTPRecoveryCodeRow.principal_id == principal_id.scalar_subquery(),
                    OTPRecoveryCodeRow.digest == digest,
                )
            )
            return bool(spent.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class OTPEnrollment:
    """The enrollment exchange on the realm's store."""

    store: Store
    rules: APRules
    changepw: Principal
    keys_for: KeysFor

    def __call__(
        self, req: OTPEnrollReq, ctx: KDCContext, now: float, names: ExchangeNames
    ) -> OTPEnrollRep:
        def enroll(ticket: EncTicketPart) -> OTPEnrollResult:
            names.client = str(ticket.client)  # for the event, accepted or refused
            self._check_second_factor(ticket, ctx, now)
            return self.enroll(ticket.client)

        return handle_otp_enroll_req(req, self.keys_for, self.rules, now, enroll, os.urandom)

    def _check_second_factor(self, ticket: EncTicketPart, ctx: KDCContext, now: float) -> None:
        """Whoever already logs in with a code replaces its authenticator only with a ticket
        whose login gave one (else a stolen password would take the second factor over); a
        principal deleted since its ticket enrolls nothing."""
        entry = ctx.lookup(ticket.client)
        if entry is None:
            raise KDCError(
                "KDC_ERR_C_PRINCIPAL_UNKNOWN",
                f"{ticket.client} is not in the database any more; nothing was enrolled",
            )
        if not (entry.requires_otp and entry.otp is not None):
            return
        signer = ctx.signer
        skew = ctx.policy.max_skew
        claims = signer.own_claims(ticket, self.changepw, skew, now) if signer else None
        if claims is None or otp.FACTOR not in claims.factors:
            raise KDCError(
                "KDC_ERR_POLICY",
                f"{ticket.client} is enrolled already: enrolling again needs a login with the "
                "current one-time code or a recovery code (orthrus otp enroll asks for it)",
            )

    def enroll(self, principal: Principal) -> OTPEnrollResult:
        """A new secret and new recovery codes for ``principal`` (the old ones stop working)."""
        secret = otp.new_secret(os.urandom)
        codes = otp.new_recovery_codes(os.urandom)
        name = str(principal)
        with self.store.transaction() as session:
            row = session.scalars(select(PrincipalRow).where(PrincipalRow.name == name)).one()
            row.otp_wrapped = self.store.master.wrap(secret, otp_owner(name))
            row.recovery_codes = [
                OTPRecoveryCodeRow(digest=otp.recovery_digest(code)) for code in codes
            ]
            row.modified_at = utcnow()
        return OTPEnrollResult(principal, secret, codes)
