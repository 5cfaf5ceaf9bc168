"""What each error means, in a student's words (RFC 4120 §7.5.9's codes, this lab's stories)."""

from __future__ import annotations

__all__ = ["EXPLANATIONS", "FORGED", "explain"]

EXPLANATIONS: dict[str, str] = {
    "KDC_ERR_PREAUTH_REQUIRED": (
        "Not a failure: the KDC will not hand out a reply sealed under your key until you "
        "prove you know it. It sends the salt and Argon2id parameters; your client derives "
        "the key from the password and sends the current time sealed under it."
    ),
    "KDC_ERR_PREAUTH_FAILED": (
        "The encrypted timestamp did not open under the key the KDC stores: wrong password. "
        "Every wrong guess here costs the attacker a round trip and counts towards lockout."
    ),
    "KDC_ERR_C_PRINCIPAL_UNKNOWN": "The KDC has no such user.",
    "KDC_ERR_S_PRINCIPAL_UNKNOWN": "The KDC has no such service.",
    "KDC_ERR_MUST_USE_USER2USER": (
        "The name is a user's, whose key comes from a password: a ticket sealed under it "
        "could be cracked offline (exercise 11), so the KDC issues none unless an "
        "administrator allowed it (orthrus-kdc modprinc --allow-svr)."
    ),
    "KDC_ERR_CLIENT_REVOKED": "The user is locked out or disabled.",
    "KDC_ERR_POLICY": (
        "The ticket is genuine, but the KDC-signed groups in it do not include the group this "
        "resource needs."
    ),
    "KRB_AP_ERR_SKEW": (
        "The timestamp inside the authenticator is too far from the server's clock (more than "
        "the allowed skew, 300 s). A timestamp is what makes an authenticator fresh: without "
        "this check an old captured one could be used for ever."
    ),
    "KRB_AP_ERR_REPEAT": (
        "The service has already accepted this very authenticator: it is a replay. The replay "
        "cache remembers every authenticator until it would fail the skew check anyway."
    ),
    "KRB_AP_ERR_MODIFIED": (
        "Something sealed did not authenticate: AES-GCM's tag did not match, so the ciphertext "
        "was altered or made under another key — or the KDC's signature on the ticket's "
        "groups did not verify. Authenticated encryption turns any change into this error."
    ),
    "KRB_AP_ERR_BADKEYVER": (
        "The ticket is sealed under a key version the service does not hold yet (or any more): "
        "the service's keytab must be refreshed after a key rotation."
    ),
    "KRB_AP_ERR_TKT_EXPIRED": "The ticket is past its end time: log in again.",
    "KRB_AP_ERR_TKT_NYV": "The ticket is not valid yet: check the clocks.",
    "KRB_AP_ERR_NOT_US": "The ticket was issued for another service.",
    "KRB_AP_ERR_BADMATCH": "The authenticator names someone else than the ticket's client.",
    "KRB_AP_ERR_MUT_FAIL": (
        "Mutual authentication failed: the server could not prove it holds the session key, "
        "so it is not the service the ticket was made for."
    ),
    "KRB_ERR_GENERIC": "A malformed request.",
}


#: ``KRB_AP_ERR_MODIFIED`` for a ticket the KDC never issued (exercises 8 and 12).
FORGED = (
    "A forged ticket: the KDC never issued it. It was sealed with a stolen long-term key, so "
    "it opens and AES-GCM's tag matches — encryption alone cannot tell it from a real one. "
    "What refused it is the KDC's signature on its authorization data (client, times, "
    "session key, groups): the forger holds no KDC signing key, so the signature does not "
    "verify (RFC 4120 §5.2.6)."
)


def explain(error: str | None) -> str | None:
    """The explanation of ``error``, or None."""
    if error is None:
        return None
    return EXPLANATIONS.get(error, "See docs/protocol.md for this error.")
