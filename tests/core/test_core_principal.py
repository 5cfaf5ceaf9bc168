"""Principal names: parse/format round trips and the narrow alphabet (RFC 4120 §6.1-§6.2)."""

from __future__ import annotations

import pytest

from orthrus.errors import MalformedMessage
from orthrus.principal import MAX_COMPONENTS, MAX_NAME_LENGTH, Principal, krbtgt


@pytest.mark.parametrize(
    ("text", "components", "realm"),
    [
        ("alice@EXAMPLE.TEST", ("alice",), "EXAMPLE.TEST"),
        ("HTTP/www.example.com@EXAMPLE.TEST", ("HTTP", "www.example.com"), "EXAMPLE.TEST"),
        ("HTTP/localhost:8443@EX-1.TEST", ("HTTP", "localhost:8443"), "EX-1.TEST"),
        ("krbtgt/EXAMPLE.TEST@EXAMPLE.TEST", ("krbtgt", "EXAMPLE.TEST"), "EXAMPLE.TEST"),
        ("a_b-c.d/e/f/g@R", ("a_b-c.d", "e", "f", "g"), "R"),
        ("Alice@EXAMPLE.TEST", ("Alice",), "EXAMPLE.TEST"),
        ("a..b@EXAMPLE.TEST", ("a..b",), "EXAMPLE.TEST"),
    ],
)
def test_parse_and_format_round_trip(text: str, components: tuple[str, ...], realm: str) -> None:
    principal = Principal.parse(text)
    assert principal.components == components
    assert principal.realm == realm
    assert str(principal) == text
    assert Principal.parse(str(principal)) == principal
    assert hash(Principal.parse(text)) == hash(principal)


def test_default_realm_applies_only_without_at() -> None:
    assert str(Principal.parse("bob", default_realm="EX.TEST")) == "bob@EX.TEST"
    assert str(Principal.parse("bob@OTHER.TEST", default_realm="EX.TEST")) == "bob@OTHER.TEST"
    assert Principal.parse("HTTP/web", default_realm="EX.TEST").name == "HTTP/web"


def test_names_are_case_sensitive_and_immutable() -> None:
    assert Principal.parse("alice@EX.TEST") != Principal.parse("Alice@EX.TEST")
    principal = Principal.parse("alice@EX.TEST")
    with pytest.raises(AttributeError):
        principal.realm = "OTHER.TEST"  # type: ignore[misc]
    assert repr(principal) == "Principal('alice@EX.TEST')"


def test_krbtgt_and_is_tgs() -> None:
    tgs = krbtgt("EX.TEST")
    assert str(tgs) == "krbtgt/EX.TEST@EX.TEST"
    assert tgs.is_tgs
    assert not Principal.parse("krbtgt@EX.TEST").is_tgs
    assert not Principal.parse("HTTP/web@EX.TEST").is_tgs
    with pytest.raises(MalformedMessage):
        krbtgt("ex.test")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("@EX.TEST", id="empty-name"),
        pytest.param("alice@", id="empty-realm"),
        pytest.param("alice", id="no-realm"),
        pytest.param("/alice@EX.TEST", id="empty-first-component"),
        pytest.param("HTTP/@EX.TEST", id="empty-instance"),
        pytest.param("HTTP//web@EX.TEST", id="empty-middle-component"),
        pytest.param("al ice@EX.TEST", id="space"),
        pytest.param(" alice@EX.TEST", id="leading-space"),
        pytest.param("alice@EX.TEST ", id="trailing-space"),
        pytest.param("alice@EX.TEST\n", id="trailing-newline"),
        pytest.param("\u0430lice@EX.TEST", id="cyrillic-a-confusable"),
        pytest.param("alice@EX.T\u0415ST", id="cyrillic-E-in-realm"),
        pytest.param("al\u00efce@EX.TEST", id="latin-1-letter"),
        pytest.param("alice\uff20EX.TEST", id="fullwidth-at"),
        pytest.param("ali\u200bce@EX.TEST", id="zero-width-space"),
        pytest.param("ali\x00ce@EX.TEST", id="nul"),
        pytest.param("ali\x1bce@EX.TEST", id="escape"),
        pytest.param("ali\tce@EX.TEST", id="tab"),
        pytest.param("alice@ex.test", id="lower-case-realm"),
        pytest.param("alice@Ex.Test", id="mixed-case-realm"),
        pytest.param("alice@.EX.TEST", id="realm-leading-dot"),
        pytest.param("alice@EX.TEST.", id="realm-trailing-dot"),
        pytest.param("alice@EX_TEST", id="realm-underscore"),
        pytest.param("../alice@EX.TEST", id="dot-dot-component"),
        pytest.param("HTTP/..@EX.TEST", id="dot-dot-instance"),
        pytest.param("HTTP/.@EX.TEST", id="dot-instance"),
        pytest.param("alice@bob@EX.TEST", id="two-ats"),
        pytest.param("alice@EX.TEST@EX.TEST", id="two-ats-realms"),
        pytest.param("a/b/c/d/e@EX.TEST", id="too-many-components"),
        pytest.param("a" * 129 + "@EX.TEST", id="component-too-long"),
        pytest.param("/".join(["a" * 100] * 3) + "@EX.TEST", id="name-too-long"),
        pytest.param("alice@" + "A" * 128, id="realm-too-long"),
        pytest.param("alice;rm@EX.TEST", id="semicolon"),
        pytest.param("alice\\@EX.TEST", id="backslash"),
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(MalformedMessage) as caught:
        Principal.parse(text)
    assert caught.value.name == "KRB_ERR_GENERIC"


def test_refuses_overlong_text_even_with_default_realm() -> None:
    text = "a" * (MAX_NAME_LENGTH + 1)
    with pytest.raises(MalformedMessage, match=str(MAX_NAME_LENGTH)):
        Principal.parse(text, default_realm="EX.TEST")
    with pytest.raises(MalformedMessage):
        Principal.parse(None)  # type: ignore[arg-type]


def test_component_limits_are_exact() -> None:
    assert Principal.parse("/".join("abcd"[:MAX_COMPONENTS]) + "@R").components == tuple("abcd")
    assert Principal.parse("a" * 128 + "@R").name == "a" * 128
    with pytest.raises(MalformedMessage, match="1 to 4 components"):
        Principal(("a", "b", "c", "d", "e"), "R")
    with pytest.raises(MalformedMessage):
        Principal((), "R")


def test_constructor_checks_like_parse() -> None:
    with pytest.raises(MalformedMessage):
        Principal(("\u0430lice",), "EX.TEST")
    with pytest.raises(MalformedMessage):
        Principal(("alice",), "ex.test")
    with pytest.raises(MalformedMessage):
        Principal(("alice@EX",), "EX.TEST")
