"""Each exercise played through on the shared lab: ``check`` fails while a step is missing,
and passes once the student has done it. Run in file order (exercise 9 rotates a key)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lab_support import Student, check, kdc_admin, lab_cli, last, missing, orthrus_lab
from support import BIN, clean_env

from kdc.store import NewPrincipal
from labs import attacks
from labs.checks import EXERCISES
from labs.lab import Lab
from orthrus.errors import APError, KDCError
from orthrus.principal import Principal

pytestmark = pytest.mark.timeout(120)


def test_exercise_1_first_login(lab: Lab) -> None:
    since = time.time()
    result = check(lab, 1, since)
    assert not result.passed and len(missing(result)) == 2
    env = clean_env(
        ORTHRUS_KDC_URL=lab.url("kdc"),
        ORTHRUS_CCACHE=str(lab.paths.ccache("alice")),
        ORTHRUS_REALM=lab.state.realm,
    )
    kinit = subprocess.run(
        [str(BIN / "orthrus"), "kinit", "alice"],
        input="alice-lab-pass\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert kinit.returncode == 0, kinit.stderr
    graded = orthrus_lab(
        "check", "1", "--since", str(since), "--json", "--dir", str(lab.paths.root)
    )
    assert graded.returncode == 0, graded.stdout + graded.stderr
    document = json.loads(graded.stdout)
    assert document["passed"] is True
    assert [s["done"] for s in document["steps"]] == [True, True]


def test_exercise_1_fails_without_the_encrypted_timestamp(lab: Lab) -> None:
    since = time.time()
    # Only the probe without pre-authentication, as a client that gives up at the hint.
    attacks.crack_as_rep(lab, Principal.parse("bob@LAB.TEST"), [])
    result = check(lab, 1, since)
    assert missing(result) == [
        "log in with the timestamp sealed under the password key, and get a TGT"
    ]


def test_exercise_2_service_tickets(lab: Lab, bob: Student) -> None:
    since = time.time()
    bob.kinit()
    bob.kvno("HTTP/notes")
    result = check(lab, 2, since)
    assert missing(result) == ["get tickets for both services with the same TGT"]
    bob.kvno("HTTP/legacy")
    assert check(lab, 2, since).passed


def test_exercise_3_authenticator(lab: Lab, alice: Student) -> None:
    since = time.time()
    alice.kinit()
    assert alice.fetch("notes").status_code == 200
    result = check(lab, 3, since)
    assert missing(result) == [
        "decode your own authenticator with your keys and read your name and timestamp"
    ]
    # bob decoding alice's exchange opens nothing of it and counts for nothing.
    shown = lab_cli(lab, "trace", "--as", "bob", "--last", "1")
    assert "does not hold the session key" in shown.stdout
    assert not check(lab, 3, since).passed
    shown = lab_cli(lab, "trace", "--as", "alice", "--last", "1")
    assert shown.exit_code == 0
    assert "client: alice@LAB.TEST" in shown.stdout and "ctime:" in shown.stdout
    assert check(lab, 3, since).passed


def test_exercise_4_clock_skew(lab: Lab, alice: Student) -> None:
    since = time.time()
    alice.kinit()
    assert alice.fetch("notes").status_code == 200  # the service ticket is now cached
    too_far = alice.fetch("notes", offset=600)
    assert too_far.status_code == 401
    assert too_far.json()["error"]["name"] == "KRB_AP_ERR_SKEW"
    result = check(lab, 4, since)
    assert missing(result) == [
        "send one from a clock off by more than a minute but within the allowed skew"
    ]
    assert alice.fetch("notes", offset=120).status_code == 200
    assert check(lab, 4, since).passed


def test_exercise_5_replay(lab: Lab, alice: Student) -> None:
    since = time.time()
    alice.kinit()
    assert alice.fetch("notes").status_code == 200
    first = last(lab, component="notes", ok=True)
    [again] = attacks.replay(lab, first.id)
    assert (again.status, again.error) == (401, "KRB_AP_ERR_REPEAT")
    result = check(lab, 5, since)
    assert missing(result) == ["replay it with the replay cache off: accepted twice"]
    assert lab_cli(lab, "switch", "notes", "replay-cache", "off").exit_code == 0
    try:
        assert alice.fetch("notes").status_code == 200
        captured = last(lab, component="notes", ok=True)
        assert captured.labels["replay_cache"] == "off"
        assert [s.status for s in attacks.replay(lab, captured.id, times=2)] == [200, 200]
    finally:
        assert lab_cli(lab, "switch", "notes", "replay-cache", "on").exit_code == 0
    assert check(lab, 5, since).passed
    # On again, after a restart: the cache (a file) still remembers the first request.
    [refused] = attacks.replay(lab, first.id)
    assert refused.error == "KRB_AP_ERR_REPEAT"


def test_exercise_6_tampering(lab: Lab, alice: Student) -> None:
    since = time.time()
    alice.kinit()
    assert alice.fetch("notes").status_code == 200
    captured = last(lab, component="notes", ok=True)
    sent, _ = attacks.tamper(lab, captured.id, "ticket")
    assert (sent.status, sent.error) == (401, "KRB_AP_ERR_MODIFIED")
    result = check(lab, 6, since)
    assert missing(result) == ["alter its authenticator: refused"]
    sent, _ = attacks.tamper(lab, captured.id, "authenticator")
    assert sent.error == "KRB_AP_ERR_MODIFIED"
    assert check(lab, 6, since).passed


def test_exercise_7_password_guessing(lab: Lab) -> None:
    since = time.time()
    # From five words before the password on: each guess is an Argon2id derivation, and the
    # 44 guesses of the whole list up to it prove no more (as in test_exercise_11_roasting).
    words = attacks.load_wordlist(None)
    words = words[words.index("sunshine") - 5 :]
    cracked = attacks.crack_as_rep(lab, Principal.parse("carol@LAB.TEST"), words)
    assert (cracked.result, cracked.password) == ("found", "sunshine")
    assert cracked.guesses == words.index("sunshine") + 1
    result = check(lab, 7, since)
    assert missing(result) == [
        "try the same against a user with pre-authentication: nothing to crack"
    ]
    nothing = attacks.crack_as_rep(lab, Principal.parse("alice@LAB.TEST"), words)
    assert nothing.result == "nothing-to-crack" and nothing.guesses == 0
    assert check(lab, 7, since).passed


def test_exercise_7_a_wrong_claim_is_not_believed(lab: Lab) -> None:
    """The grader checks a cracked password really opens the reply: a list without it fails."""
    since = time.time()
    words = ["not-it", "nor-this"]
    result = attacks.crack_as_rep(lab, Principal.parse("carol@LAB.TEST"), words)
    assert result.result == "not-found"
    from labs.tracefile import record_activity

    record_activity(
        lab.paths.activity,
        "crack",
        mode="as-rep",
        target="carol@LAB.TEST",
        result="found",
        password="guessed-wrong",
        event=result.event,
    )
    assert "recover the password offline from it" in missing(check(lab, 7, since))


def test_exercise_8_silver_ticket(lab: Lab, alice: Student) -> None:
    since = time.time()
    alice.kinit()
    assert alice.fetch("notes", "/admin/stats").status_code == 403
    mallory = Student(lab, "alice", ccache=lab.paths.ccache("mallory"))
    forged = lab_cli(lab, "forge", "--keytab", str(lab.paths.keytab("notes")))
    assert forged.exit_code == 0, forged.output
    refused = mallory.fetch("notes", "/admin/stats")
    assert refused.json()["error"]["name"] == "KRB_AP_ERR_MODIFIED"
    result = check(lab, 8, since)
    assert missing(result) == [
        "present it while the service believes unsigned groups: accepted as admins"
    ]
    assert lab_cli(lab, "switch", "notes", "authz", "off").exit_code == 0
    try:
        accepted = mallory.fetch("notes", "/admin/stats")
        assert accepted.status_code == 200, accepted.text
        whoami = mallory.fetch("notes", "/whoami").json()
        assert (whoami["principal"], whoami["groups"]) == ("mallory@LAB.TEST", ["admins"])
    finally:
        assert lab_cli(lab, "switch", "notes", "authz", "on").exit_code == 0
    assert check(lab, 8, since).passed


def test_exercise_9_key_rotation(lab: Lab, alice: Student, bob: Student) -> None:
    since = time.time()
    alice.kinit()
    assert alice.fetch("notes").status_code == 200  # alice holds a kvno 1 ticket
    assert "rotate a service's key (a new kvno in the KDC)" in missing(check(lab, 9, since))
    lab.store().rotate(Principal.parse("HTTP/notes@LAB.TEST"), datetime.now(UTC))
    bob.kinit()
    refused = bob.fetch("notes")
    assert refused.json()["error"]["name"] == "KRB_AP_ERR_BADKEYVER"
    assert alice.fetch("notes").status_code == 200  # the old kvno still works
    result = check(lab, 9, since)
    assert missing(result) == ["export the new key to the keytab: the new ticket is accepted"]
    exported = subprocess.run(
        [
            str(BIN / "orthrus-kdc"),
            "--dir",
            str(lab.paths.kdc),
            "ktadd",
            "-k",
            str(lab.paths.keytab("notes")),
            "HTTP/notes",
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert exported.returncode == 0, exported.stderr
    deadline = time.monotonic() + 60
    while bob.fetch("notes").status_code != 200:  # the service re-reads its keytab
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert check(lab, 9, since).passed


def test_exercise_10_mutual_auth(lab: Lab, alice: Student) -> None:
    since = time.time()
    alice.kinit()
    fooled = alice.fetch("impostor", "/notes")
    assert fooled.status_code == 200 and "it-support" in fooled.text
    with pytest.raises(APError) as caught:
        alice.fetch("impostor", "/notes", mutual=True)
    assert caught.value.name == "KRB_AP_ERR_MUT_FAIL"
    result = check(lab, 10, since)
    assert missing(result) == ["ask the real service for mutual authentication: it proves itself"]
    assert alice.fetch("notes", mutual=True).status_code == 200
    assert check(lab, 10, since).passed
    # The trace shows both replies: the impostor's does not open under the session key; the
    # real service's does, and holds the authenticator's own time.
    shown = lab_cli(lab, "trace", "--as", "alice", "--last", "2").stdout
    impostor, real = re.split(r"\n(?=#\d+ )", shown.strip())
    assert "200 OK (fake)" in impostor
    assert "reply.enc_part  EncAPRepPart" in impostor and "does not open under" in impostor
    assert "accepted, AP-REP" in real
    request_part, reply_part = real.split("reply.enc_part  EncAPRepPart")
    assert "opened with the session key" in reply_part
    times = [re.findall(r"(ctime|cusec): (\d+)", part) for part in (request_part, reply_part)]
    assert len(times[1]) == 2 and times[0] == times[1]


def test_exercise_11_roasting(lab: Lab, alice: Student) -> None:
    since = time.time()
    alice.kinit()
    # The list's last words, wrong guesses first, then the password: the whole list is ~100
    # Argon2id derivations (~25 s, near the test timeout under load) and proves no more.
    words = attacks.load_wordlist(None)[-12:]
    assert words.index("baseball1") > 0
    client = alice.client()
    try:
        legacy = client.get_service_ticket(Principal.parse("HTTP/legacy@LAB.TEST")).ticket
        notes = client.get_service_ticket(Principal.parse("HTTP/notes@LAB.TEST")).ticket
        # A user's key comes from a password too, but nobody allowed bob as a server.
        with pytest.raises(KDCError) as refused:
            client.get_service_ticket(Principal.parse("bob@LAB.TEST"))
        assert refused.value.name == "KDC_ERR_MUST_USE_USER2USER"
    finally:
        client.close()
    roasted = attacks.crack_ticket(lab, legacy, words)
    assert (roasted.result, roasted.password) == ("found", "baseball1")
    result = check(lab, 11, since)
    assert missing(result) == ["try the same on a service with a random key: nothing to guess"]
    random_key = attacks.crack_ticket(lab, notes, words)
    assert random_key.result == "random-key" and random_key.guesses == 0
    assert check(lab, 11, since).passed


def test_list_and_check_all_agree_with_each_check(lab: Lab) -> None:
    listed = json.loads(lab_cli(lab, "list", "--json").stdout)
    assert [r["number"] for r in listed] == [e.number for e in EXERCISES]
    assert all(r["doc"].startswith("docs/labs/") for r in listed)
    graded = lab_cli(lab, "check", "--all", "--json")
    results = json.loads(graded.stdout)
    assert [r["passed"] for r in results] == [r["done"] for r in listed]
    assert graded.exit_code == (0 if all(r["passed"] for r in results) else 1)
    nothing_yet = lab_cli(lab, "check", "--all", "--json", "--since", str(time.time() + 60))
    assert nothing_yet.exit_code == 1
    assert not any(g["passed"] for g in json.loads(nothing_yet.stdout))


def test_exercise_12_golden_ticket(lab: Lab, alice: Student, bob: Student) -> None:
    since = time.time()
    tgs = f"krbtgt/{lab.state.realm}"
    alice.kinit()  # alice's TGT, under krbtgt's kvno 1
    kdc_admin(lab, "ktadd", "-k", str(lab.paths.keytab("krbtgt")), tgs)  # the stolen key
    golden = lab.paths.ccache("golden")
    forged = lab_cli(lab, "forge", "--golden", "--as", "dave", "--ccache", str(golden))
    assert forged.exit_code == 0, forged.output
    with pytest.raises((APError, KDCError)) as refused:
        Student(lab, "dave", ccache=golden).kvno("HTTP/notes")
    assert refused.value.name == "KRB_AP_ERR_MODIFIED"
    # The stolen key opens the forged TGT in the trace: dave, signed with a made-up key.
    shown = lab_cli(lab, "trace", "--keytab", str(lab.paths.keytab("krbtgt")), "--last", "1")
    assert "client: dave@LAB.TEST" in shown.stdout and "forged-by-the-student" in shown.stdout
    # Marked as a ticket the KDC never issued, with a verdict on its (made-up) signature.
    assert "forged ticket" in shown.stdout and "KDC signature: not the KDC's" in shown.stdout
    result = check(lab, 12, since)
    assert missing(result) == [
        "turn the TGS's check of the signature off: the forged TGT gets a service ticket",
        "rotate the krbtgt key (a new kvno in the KDC)",
        "after the rotation, a TGT issued before it still gets service tickets",
    ]
    # The lab switch: a TGS that believes unsigned TGTs hands dave's forger a ticket.
    assert lab_cli(lab, "switch", "kdc", "tgt-signature", "off").exit_code == 0
    try:
        Student(lab, "dave", ccache=golden).kvno("HTTP/notes")  # no refusal: believed
    finally:
        assert lab_cli(lab, "switch", "kdc", "tgt-signature", "on").exit_code == 0
    assert (
        "turn the TGS's check of the signature off: the forged TGT gets a service ticket"
        not in (missing(check(lab, 12, since)))
    )
    kdc_admin(lab, "rotate", tgs)
    bob.kinit()  # a TGT under kvno 2
    assert "after the rotation, a TGT issued before it still gets service tickets" in missing(
        check(lab, 12, since)
    )
    assert alice.kvno("HTTP/legacy") == [1]  # her kvno 1 TGT still works
    assert check(lab, 12, since).passed


def test_exercise_13_pass_the_ticket(lab: Lab, alice: Student) -> None:
    since = time.time()
    alice.kinit()
    alice.kvno("HTTP/notes")
    stolen = lab_cli(lab, "steal", "alice")
    assert stolen.exit_code == 0 and "mode 0600" in stolen.output, stolen.output
    assert missing(check(lab, 13, since)) == [
        "use a ticket from the copy, with no password: accepted",
        "disable the victim: the copied TGT gets nothing more from the KDC",
    ]
    thief = Student(lab, "alice", ccache=lab.paths.ccache("thief"))
    assert thief.fetch("notes").json()["principal"] == "alice@LAB.TEST"
    kdc_admin(lab, "modprinc", "--disallow-tickets", "alice")
    try:
        with pytest.raises(KDCError) as revoked:
            thief.kvno("HTTP/legacy")
        assert revoked.value.name == "KDC_ERR_CLIENT_REVOKED"
        # The service ticket already copied still works: services do not ask the KDC.
        assert thief.fetch("notes").status_code == 200
    finally:
        kdc_admin(lab, "modprinc", "--allow-tickets", "alice")
    assert check(lab, 13, since).passed


def test_exercise_14_overpass_the_hash(lab: Lab, tmp_path: Path) -> None:
    since = time.time()
    # A user of its own, whose password the test may change without touching the others'.
    frank = Principal.parse("frank@LAB.TEST")
    lab.store().add_principal(NewPrincipal(frank, "frank-lab-pass"))
    stolen = tmp_path / "stolen.keytab"
    kdc_admin(lab, "ktadd", "-k", str(stolen), str(frank))
    victim = Student(lab, "alice", ccache=tmp_path / "frank.ccache")

    def login_with_key() -> None:
        client = victim.client()
        try:
            client.login_with_keytab(frank, stolen)
        finally:
            client.close()

    login_with_key()
    assert missing(check(lab, 14, since)) == [
        "use that TGT for a service ticket",
        "change the user's password: the stolen key no longer logs in",
    ]
    victim.kvno("HTTP/notes")
    assert missing(check(lab, 14, since)) == [
        "change the user's password: the stolen key no longer logs in"
    ]
    lab.store().change_key(frank, "frank-new-pass")
    with pytest.raises(KDCError) as refused:
        login_with_key()
    assert refused.value.name == "KDC_ERR_PREAUTH_FAILED"
    assert check(lab, 14, since).passed


def test_steal_of_nobody_or_of_an_empty_cache_says_why(lab: Lab) -> None:
    nobody = orthrus_lab("steal", "nobody", "--dir", str(lab.paths.root))
    assert nobody.returncode != 0 and "the lab has no user 'nobody'" in nobody.stderr
    carol = orthrus_lab("steal", "carol", "--dir", str(lab.paths.root))  # never logged in
    assert carol.returncode != 0 and "there is no credential cache" in carol.stderr
    assert "Traceback" not in nobody.stderr + carol.stderr


def _decoded(lab: Lab, viewer: str, last_n: int) -> list[dict[str, Any]]:
    shown = lab_cli(lab, "trace", "--as", viewer, "--json", "--last", str(last_n))
    assert shown.exit_code == 0, shown.output
    return [json.loads(line) for line in shown.stdout.splitlines() if line.startswith("{")]


def _the_forwarded_tgt_as_alice_and_as_the_kdc(lab: Lab) -> None:
    """What the step after the forwarded fetch tells students to look at: notes' TGS request
    with alice's forwarded TGT opens as alice (its authenticator: the session key the KDC gave
    her) but its TGT does not; as the KDC (exercise 12 handed out its key) the TGT names
    alice and says forwarded."""
    krbtgt = lab.paths.keytab("krbtgt")
    if not krbtgt.exists():  # exercise 12's step, when this test runs alone
        kdc_admin(lab, "ktadd", "-k", str(krbtgt), f"krbtgt/{lab.state.realm}")

    def notes_request(views: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        view = next(
            v
            for v in reversed(views)
            if v["exchange"] == "TGS" and v["ok"] and v["server"].startswith("HTTP/legacy")
        )
        return {p["where"]: p for p in view["parts"]}

    as_alice = notes_request(_decoded(lab, "alice", 6))
    assert as_alice["request.ap_req.authenticator"]["opened"]
    assert not as_alice["request.ap_req.ticket.enc_part"]["opened"]
    as_kdc = notes_request(_decoded(lab, "kdc", 6))["request.ap_req.ticket.enc_part"]
    assert as_kdc["opened"] and as_kdc["fields"]["client"] == f"alice@{lab.state.realm}"
    assert "forwarded" in as_kdc["fields"]["flags"]


def test_exercise_19_delegation(lab: Lab, tmp_path: Path) -> None:
    """The steps of docs/labs/19-delegation.md with the real ``orthrus`` and ``orthrus-kdc``:
    notes trusted with alice's forwarded TGT gets a ticket to legacy as alice, though it may
    not delegate there; constrained delegation gets it only once allowed; a user kept from
    forwardable tickets is kept out of it."""
    since = time.time()
    fresh = check(lab, 19, since)
    steps = [s.text for s in fresh.steps]
    assert missing(fresh) == steps
    env = clean_env(
        ORTHRUS_KDC_URL=lab.url("kdc"),
        ORTHRUS_CCACHE=str(tmp_path / "alice.ccache"),
        ORTHRUS_REALM=lab.state.realm,
    )
    backend = f"{lab.url('notes')}/backend/whoami"

    def orthrus(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "orthrus"), *args],
            input="alice-lab-pass\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    def fetch(*options: str, kinit: tuple[str, ...] = ("-f",)) -> dict[str, Any]:
        orthrus("kinit", *kinit, "alice")
        done = orthrus("fetch", *options, "--service", "HTTP/notes", backend)
        document: dict[str, Any] = json.loads(done.stdout)
        return document

    # Refused, but alice's ticket was not forwardable: not yet evidence that notes' lack of
    # permission is what stopped it.
    assert fetch(kinit=())["error"]["name"] == "KDC_ERR_BADOPTION"
    assert missing(check(lab, 19, since)) == steps
    assert fetch()["error"]["name"] == "KDC_ERR_BADOPTION"  # notes may not delegate
    assert missing(check(lab, 19, since)) == steps[1:]
    try:
        kdc_admin(lab, "modprinc", "--ok-as-delegate", "HTTP/notes")
        forwarded = fetch("--forward")
        assert forwarded["delegation"] == "forwarded-tgt"
        assert forwarded["backend"]["principal"] == "alice@LAB.TEST"
        assert forwarded["backend"]["delegated_by"] is None  # legacy cannot tell
        _the_forwarded_tgt_as_alice_and_as_the_kdc(lab)
        kdc_admin(lab, "modprinc", "--no-ok-as-delegate", "HTTP/notes")
        kdc_admin(lab, "modprinc", "--allowed-to-delegate-to", "HTTP/legacy", "HTTP/notes")
        constrained = fetch()
        assert constrained["delegation"] == "s4u2proxy"
        assert constrained["backend"]["delegated_by"] == "HTTP/notes@LAB.TEST"
        assert missing(check(lab, 19, since)) == steps[3:]
        kdc_admin(lab, "modprinc", "--disallow-forwardable", "alice")
        assert fetch()["error"]["name"] == "KDC_ERR_BADOPTION"
    finally:
        kdc_admin(lab, "modprinc", "--allow-forwardable", "alice")
        kdc_admin(lab, "modprinc", "--no-ok-as-delegate", "HTTP/notes")
        kdc_admin(lab, "modprinc", "--no-allowed-to-delegate-to", "HTTP/legacy", "HTTP/notes")
    assert check(lab, 19, since).passed
    # constrained delegation taken back: notes is refused again
    assert fetch()["error"]["name"] == "KDC_ERR_BADOPTION"
