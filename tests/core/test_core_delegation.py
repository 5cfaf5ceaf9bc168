"""Delegation in the core, with a fake clock: forwardable and forwarded TGTs, OK-AS-DELEGATE
(RFC 4120 §2.6, §2.8) and constrained delegation (MS-SFU S4U2Proxy). The refusals are
attack tests: tests/test_attacks.py, "delegation"."""

from __future__ import annotations

import os

import pytest
from core_realm import T0, CoreRealm

from orthrus.ap import open_ticket
from orthrus.credentials import Credential
from orthrus.errors import ProtocolError
from orthrus.forwarding import open_forwarded_tgt, seal_forwarded_tgt
from orthrus.principal import Principal
from orthrus.tgs_exchange import make_forward_req, read_tgs_rep


@pytest.fixture
def front(core: CoreRealm) -> Principal:
    """HTTP/front, allowed to delegate to HTTP/backend."""
    backend = core.add_service("HTTP/backend")
    return core.add_service("HTTP/front", delegate_to=frozenset({backend}))


@pytest.fixture
def forwardable(core: CoreRealm, alice: Principal, alice_key) -> Credential:
    """Alice's TGT from 'orthrus kinit -f'."""
    return core.login(alice, alice_key, T0, forwardable=True)


def test_kinit_f_gives_a_forwardable_tgt(forwardable: Credential) -> None:
    assert set(forwardable.flags) == {"forwardable", "initial", "pre-authent"}


def test_a_principal_disallowed_forwardable_gets_a_tgt_without_the_flag(
    core: CoreRealm, alice: Principal, alice_key
) -> None:
    core.change(alice, allow_forwardable=False)
    tgt = core.login(alice, alice_key, T0, forwardable=True)
    assert "forwardable" not in tgt.flags


def test_forwarded_tgt_and_its_service_tickets_say_forwarded(
    core: CoreRealm, forwardable: Credential, http: Principal
) -> None:
    request = make_forward_req(forwardable, T0 + 5, os.urandom)
    forwarded = read_tgs_rep(core.tgs_exchange(request, T0 + 5), request, T0 + 5)
    assert forwarded.server == core.tgs
    assert set(forwarded.flags) == {"forwardable", "forwarded", "pre-authent"}
    assert forwarded.endtime == forwardable.endtime
    ticket = core.service_ticket(forwarded, http, T0 + 6)
    assert "forwarded" in ticket.flags


def test_ok_as_delegate_marks_the_service_tickets(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    assert "ok-as-delegate" not in core.service_ticket(tgt, http).flags
    core.change(http, ok_as_delegate=True)
    assert "ok-as-delegate" in core.service_ticket(tgt, http).flags


def test_s4u2proxy_gives_the_back_end_a_ticket_naming_both(
    core: CoreRealm, forwardable: Credential, front: Principal, alice: Principal
) -> None:
    backend = core.principal("HTTP/backend")
    evidence = core.service_ticket(forwardable, front, T0 + 1)
    delegated = core.delegate(core.service_login(front, T0 + 2), evidence, backend, T0 + 3)
    assert (delegated.client, delegated.server) == (alice, backend)
    assert delegated.flags == ["pre-authent"]  # not forwardable: no second hop
    assert delegated.endtime <= evidence.endtime
    part = open_ticket(delegated.ticket, core.key_of(backend))
    claims = core.verifier().claims(part, backend, 300, now=T0 + 3)
    assert claims.groups == ("admins",)
    assert claims.delegated_by == front
    direct = open_ticket(core.service_ticket(forwardable, backend).ticket, core.key_of(backend))
    assert core.verifier().claims(direct, backend, 300, now=T0).delegated_by is None


def test_a_forwarded_credential_must_be_a_live_tgt_of_the_client(
    core: CoreRealm, forwardable: Credential, http: Principal, alice: Principal
) -> None:
    """What a service checks of ``Orthrus-Forwarded-TGT`` besides its seal and its client:
    a TGT of the client's realm (not a service ticket), not expired."""
    ticket = core.service_ticket(forwardable, http)
    session_key = ticket.session_key
    for credential, name in (
        (ticket, "KRB_AP_ERR_MODIFIED"),
        (forwardable, "KRB_AP_ERR_TKT_EXPIRED"),
    ):
        sealed = seal_forwarded_tgt(credential, session_key, os.urandom)
        later = forwardable.endtime + 301
        with pytest.raises(ProtocolError) as caught:
            open_forwarded_tgt(sealed, session_key, alice, later, 300)
        assert caught.value.name == name
    sealed = seal_forwarded_tgt(forwardable, session_key, os.urandom)
    assert open_forwarded_tgt(sealed, session_key, alice, T0, 300) == forwardable
