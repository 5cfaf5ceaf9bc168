"""The admin ACL (kadm5.acl in MIT's manner, orthrus.kadm5acl): parsing and matching."""

from __future__ import annotations

import re

import pytest

from orthrus.kadm5acl import ALL_OPERATIONS, ACLError, AdminACL
from orthrus.principal import Principal

R = "EXAMPLE.TEST"


def p(text: str) -> Principal:
    return Principal.parse(text, default_realm=R)


ACL = AdminACL.parse(
    f"""
    # comment line
    */admin@{R}   *
    helpdesk       c   *@{R}     # a user's password, nothing else
    auditor@{R}    il
    deploy@{R}     ce  HTTP/*@{R}
    """,
    R,
)


def test_the_default_line_grants_every_operation_on_every_principal() -> None:
    for letter in ALL_OPERATIONS:
        for target in ("bob", "HTTP/web", "root/admin", f"krbtgt/{R}", "x@OTHER.TEST"):
            assert ACL.allows(p("joe/admin"), letter, p(target))
    assert ACL.allows(p("joe/admin"), "l")


def test_star_stays_within_one_component_and_the_realm() -> None:
    assert not ACL.allows(p("a/b/admin"), "i", p("bob"))  # three components
    assert not ACL.allows(p("joe/admin@OTHER.TEST"), "i", p("bob"))
    assert ACL.allows(p("helpdesk"), "c", p("bob"))
    for target in ("root/admin", "HTTP/web", "bob@OTHER.TEST"):
        assert not ACL.allows(p("helpdesk"), "c", p(target))
    assert not ACL.allows(p("helpdesk"), "a", p("bob"))
    assert ACL.allows(p("deploy"), "e", p("HTTP/web"))
    assert not ACL.allows(p("deploy"), "e", p("HTTP/web/extra"))
    assert not ACL.allows(p("deploy"), "e", p("bob"))


def test_operations_without_a_target_and_entries_without_a_target_pattern() -> None:
    assert ACL.allows(p("auditor"), "l")
    assert ACL.allows(p("auditor"), "i", p("root/admin"))
    assert not ACL.allows(p("auditor"), "m", p("bob"))
    assert not ACL.allows(p("nobody"), "l")


def test_pattern_characters_are_literal_but_star() -> None:
    acl = AdminACL.parse(f"a.b@{R} i\n", R)
    assert acl.allows(p("a.b"), "i", p("bob"))
    assert not acl.allows(p("axb"), "i", p("bob"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("joe/admin@R", "line 1: expected 'PRINCIPAL OPERATIONS [TARGET]'"),
        ("joe/admin@R a b c", "line 1: expected"),
        ("\n\njoe/admin@R aq", "line 3: unknown operation 'q'"),
        ("joe/admin@R A", "unknown operation 'A'"),
    ],
)
def test_a_line_not_understood_is_an_error_naming_it(text: str, message: str) -> None:
    with pytest.raises(ACLError, match=re.escape(message)):
        AdminACL.parse(text, R)


def test_an_unknown_operation_asked_for_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        ACL.allows(p("joe/admin"), "z")
