"""What ``getprinc`` prints, laid out as MIT's ``kadmin getprinc``: the same lines for
``orthrus-kdc getprinc`` and ``orthrus admin getprinc`` (both get the KDC's description of
the principal, :meth:`kdc.principal_admin.PrincipalAdmin.describe`; never a key)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orthrus.duration import format_duration

__all__ = ["NO_KERBEROS_KEYS", "getprinc_text"]

#: What getprinc says of a principal with no Kerberos key (made before they existed).
NO_KERBEROS_KEYS = (
    "no Kerberos keys: MIT clients cannot log in as this principal until its next cpw"
)


def _when(value: str | None) -> str:
    if value is None:
        return "[never]"
    moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return moment.strftime("%a %b %d %H:%M:%S %Y UTC")


def getprinc_text(info: dict[str, Any]) -> str:
    """The lines of ``getprinc`` for the description ``info``."""
    attributes = [
        a
        for a, on in (
            ("REQUIRES_PRE_AUTH", info["requires_preauth"]),
            ("DISALLOW_ALL_TIX", not info["allow_tickets"]),
            # As MIT's flag: no ticket has this principal as server (its key is a password's).
            ("DISALLOW_SVR", info["password_key"] and not info["allow_svr"]),
            ("REQUIRES_OTP", info["requires_otp"]),
            ("DISALLOW_FORWARDABLE", not info["allow_forwardable"]),
            ("OK_AS_DELEGATE", info["ok_as_delegate"]),
        )
        if on
    ]
    lines = [
        f"Principal: {info['principal']}",
        "Expiration date: [never]",
        f"Last password change: {_when(info['password_changed'])}",
        f"Maximum ticket life: {format_duration(info['max_life'])}",
        f"Maximum renewable life: {format_duration(info['max_renewable_life'])}",
        f"Created: {_when(info['created'])}",
        f"Last modified: {_when(info['modified'])}",
        f"Number of keys: {len(info['keys'])}",
        *(f"Key: vno {k['kvno']}, {k['enctype']}" for k in info["keys"]),
        *_kerberos_key_lines(info),
        f"Groups: {', '.join(info['groups']) or '[none]'}",
        f"Attributes: {' '.join(attributes)}",
        f"Allowed to delegate to: {', '.join(info['allowed_to_delegate_to']) or '[none]'}",
    ]
    if info["legacy_salt"]:
        lines.append(
            "Password key: made before salts were bound to principal names; no client can log "
            f"in with it: reset it (orthrus-kdc cpw {info['principal']})"
        )
    return "\n".join(lines)


def _kerberos_key_lines(info: dict[str, Any]) -> list[str]:
    """getprinc's lines for the Kerberos keys, as MIT's ``Key: vno N, ENCTYPE`` lines."""
    if not info["kerberos_keys"]:
        return [f"Kerberos keys: {NO_KERBEROS_KEYS}"]
    lines = []
    for key in info["kerberos_keys"]:
        if key["salt"] is None:
            how = "random key"
        else:
            how = f"salt {key['salt']}, {key['iterations']} iterations"
        lines.append(f"Kerberos key: vno {key['kvno']}, {key['enctype']}, {how}")
    return lines
