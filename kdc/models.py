"""The principal database schema (SQLAlchemy 2 declarative models)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "GroupRow",
    "KerberosKeyRow",
    "KeyRow",
    "OTPRecoveryCodeRow",
    "PasswordHistoryRow",
    "PrincipalRow",
    "SigningKeyRow",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class PrincipalRow(Base):
    """A principal: its name, current kvno, KDF parameters (for password keys) and limits."""

    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    kvno: Mapped[int] = mapped_column(Integer)
    requires_preauth: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_tickets: Mapped[bool] = mapped_column(Boolean, default=True)
    #: A password principal may be a ticket's server (MIT's allow_svr); see 0003_allow_svr.
    allow_svr: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: A login needs a one-time code too (RFC 6238); see 0006_otp.
    requires_otp: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The enrolled TOTP secret, sealed under the master key (owner ``name#otp``).
    otp_wrapped: Mapped[str | None] = mapped_column(Text, nullable=True)
    max_life: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_renewable_life: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kdf_salt: Mapped[bytes | None] = mapped_column(LargeBinary(64), nullable=True)
    kdf_iterations: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kdf_memory_kib: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kdf_lanes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )

    keys: Mapped[list[KeyRow]] = relationship(
        back_populates="principal", cascade="all, delete-orphan", order_by="KeyRow.kvno"
    )
    kerberos_keys: Mapped[list[KerberosKeyRow]] = relationship(
        back_populates="principal",
        cascade="all, delete-orphan",
        order_by="KerberosKeyRow.kvno",
    )
    groups: Mapped[list[GroupRow]] = relationship(
        back_populates="principal", cascade="all, delete-orphan", order_by="GroupRow.name"
    )
    recovery_codes: Mapped[list[OTPRecoveryCodeRow]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    history: Mapped[list[PasswordHistoryRow]] = relationship(
        back_populates="principal",
        cascade="all, delete-orphan",
        order_by="PasswordHistoryRow.id",
    )


class KeyRow(Base):
    """One version of a principal's long-term key, sealed under the master key."""

    __tablename__ = "keys"

    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    kvno: Mapped[int] = mapped_column(Integer, primary_key=True)
    enctype: Mapped[str] = mapped_column(String(32))
    wrapped: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    principal: Mapped[PrincipalRow] = relationship(back_populates="keys")


class KerberosKeyRow(Base):
    """One RFC 3961 key of a principal for Kerberos clients, at one kvno and enctype, sealed
    under the master key (kdc.kerberos_keys binds the name, kvno and enctype to the seal).

    ``salt`` and ``iterations`` are those of a key made from a password (RFC 3962 §4,
    RFC 8009 §4), null for a random key. See 0005_kerberos_keys.
    """

    __tablename__ = "kerberos_keys"

    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    kvno: Mapped[int] = mapped_column(Integer, primary_key=True)
    enctype: Mapped[int] = mapped_column(Integer, primary_key=True)
    salt: Mapped[bytes | None] = mapped_column(LargeBinary(1024), nullable=True)
    iterations: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wrapped: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    principal: Mapped[PrincipalRow] = relationship(back_populates="kerberos_keys")


class GroupRow(Base):
    """A group a principal belongs to; the KDC signs groups into every ticket."""

    __tablename__ = "groups"

    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)

    principal: Mapped[PrincipalRow] = relationship(back_populates="groups")


class OTPRecoveryCodeRow(Base):
    """One unused OTP recovery code of a principal, hashed (:func:`orthrus.otp.recovery_digest`)."""

    __tablename__ = "otp_recovery_codes"

    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)


class PasswordHistoryRow(Base):
    """A recent password's key and KDF parameters, to refuse its reuse (sealed at rest)."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    kdf_salt: Mapped[bytes] = mapped_column(LargeBinary(64))
    kdf_iterations: Mapped[int] = mapped_column(Integer)
    kdf_memory_kib: Mapped[int] = mapped_column(Integer)
    kdf_lanes: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    principal: Mapped[PrincipalRow] = relationship(back_populates="history")


class SigningKeyRow(Base):
    """The KDC's Ed25519 key for authorization data, sealed under the master key."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
