"""The class server end to end, over real processes: ``orthrus-lab class init`` with a roster
of three, ``class serve`` (KDC and notes over HTTPS, the dashboard on loopback), three students
who ``orthrus-lab join`` it and run the real ``orthrus`` client, one of whom forges evidence
into every file it can reach — and whose grade does not move. ``class report`` in JSON and
CSV. The dashboard in chromium, updating live (skipped, saying why, without chromium).

One class server for the module; each student has a home of their own (``HOME``), as on
their own machine, and nothing of the class directory.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import BIN, clean_env, free_port

from kdc.config import load_settings
from kdc.store import Store
from labs.attacks import forge_ticket
from labs.classroom.certs import ClassCertificates, make_certificates
from labs.classroom.grading import attributed_client, grade_class
from labs.classroom.realm import ClassState, class_paths, handout_file
from labs.decode import Decoder, StoreKeys
from labs.lab import Lab
from labs.procs import port_free
from labs.state import LabPaths, LabState
from labs.tracefile import read_trace
from orthrus.principal import Principal
from orthrus.session_token import ticket_id

STUDENTS = ("ann", "ben", "cat")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
    )


def lab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``orthrus-lab``."""
    return run([str(BIN / "orthrus-lab"), *args], env or clean_env())


def free_ports(count: int) -> int:
    """A port P with P .. P+count-1 all free."""
    while True:
        port = free_port()
        if port + count < 65535 and all(port_free(port + i) for i in range(count)):
            return port


@dataclass
class Classroom:
    root: Path
    port: int
    passwords: dict[str, str]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def report(self) -> dict[str, Any]:
        """The grid, graded in-process as ``class report --json`` does (no start-up cost)."""
        paths = class_paths(self.root)
        store = Store.open(load_settings(paths.kdc, env={}))
        return grade_class(paths, ClassState.load(paths), store).to_json()

    def grades(self, student: str) -> dict[str, Any]:
        row = next(s for s in self.report()["students"] if s["student"] == student)
        return {n: cell["status"] for n, cell in row["results"].items()}


@dataclass
class ClassStudent:
    """A student on their own machine: a home, the class CA, the real ``orthrus``."""

    name: str
    home: Path
    env: dict[str, str]
    password: str

    def orthrus(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        result = run([str(BIN / "orthrus"), *args], self.env, stdin)
        return result

    def kinit(self) -> None:
        result = self.orthrus("kinit", self.name, stdin=self.password + "\n")
        assert result.returncode == 0, result.stderr

    def kvno(self, *services: str) -> subprocess.CompletedProcess[str]:
        return self.orthrus("kvno", *services)

    def whoami(self, offset: int = 0) -> subprocess.CompletedProcess[str]:
        """``orthrus fetch`` of notes' /whoami, the client's clock ``offset`` seconds off."""
        shift = ["--clock-offset", str(offset)] if offset else []
        notes = self.env["LAB_NOTES"]
        return self.orthrus(*shift, "fetch", "--service", "HTTP/notes", f"{notes}/whoami")


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    base = tmp_path_factory.mktemp("class")
    roster = base / "roster.csv"
    roster.write_text("name\n" + "\n".join(STUDENTS) + "\n")
    root = base / "instructor" / "class"
    made = lab("class", "init", "--dir", str(root), "--roster", str(roster))
    assert made.returncode == 0, made.stdout + made.stderr
    port = free_ports(4)  # the KDC, notes, the dashboard, the KDC's Kerberos port
    served = lab("class", "serve", "--dir", str(root), "--host", "127.0.0.1", "--port", str(port))
    try:
        assert served.returncode == 0, served.stdout + served.stderr
        rows = handout_file(class_paths(root)).read_text().splitlines()
        passwords = {
            line.split(",")[0]: line.split(",")[2]
            for line in rows
            if line.split(",")[0] in STUDENTS
        }
        yield Classroom(root, port, passwords)
    finally:
        stopped = lab("class", "stop", "--dir", str(root))
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="module")
def students(classroom: Classroom, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The three students, joined; each logged in and asked for their service tickets once
    (ann and ben both services, cat only HTTP/notes)."""
    out = {}
    ca = classroom.root / "tls" / "ca.pem"
    for name in STUDENTS:
        home = tmp_path_factory.mktemp(f"home-{name}")
        handed = home / "ca.pem"
        handed.write_bytes(ca.read_bytes())  # the CA is public: the instructor hands it out
        env = clean_env(HOME=str(home))
        joined = run(
            [str(BIN / "orthrus-lab"), "join", classroom.url, "--ca", str(handed),
             "--dir", str(home / "class")],
            env,
        )  # fmt: skip
        assert joined.returncode == 0, joined.stderr
        for line in joined.stdout.splitlines():
            name_value = shlex.split(line.removeprefix("export "))[0]
            key, _, value = name_value.partition("=")
            env[key] = value
        out[name] = ClassStudent(name, home, env, classroom.passwords[name])
    for name in STUDENTS:
        out[name].kinit()
    for name in ("ann", "ben"):
        result = out[name].kvno("HTTP/notes", f"HTTP/legacy-{name}")
        assert result.returncode == 0, result.stderr
    assert out["cat"].kvno("HTTP/notes").returncode == 0
    return out


def test_init_writes_passwords_only_to_the_private_handout(classroom: Classroom) -> None:
    handout = handout_file(class_paths(classroom.root))
    assert stat.S_IMODE(handout.stat().st_mode) == 0o600
    assert set(classroom.passwords) == set(STUDENTS)
    for path in classroom.root.rglob("*"):
        if path.is_file() and path != handout:
            data = path.read_bytes()
            for password in classroom.passwords.values():
                assert password.encode() not in data, path
    state = json.loads((classroom.root / "class.json").read_text())
    assert state["students"] == list(STUDENTS) and "password" not in json.dumps(state)
    assert not (classroom.root / "tls" / "ca.key").exists()  # the CA key is never written


def test_a_roster_with_a_bad_name_is_refused_with_its_line(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name\nann\nBob Smith\n")
    result = lab("class", "init", "--dir", str(tmp_path / "c"), "--roster", str(roster))
    assert result.returncode != 0
    assert "line 3" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "c" / "class.json").exists()


def test_join_refuses_a_server_its_ca_does_not_vouch_for(
    classroom: Classroom, tmp_path: Path
) -> None:
    other = ClassCertificates.under(tmp_path / "other")
    make_certificates(other, ["127.0.0.1"], datetime.datetime.now(datetime.UTC))
    env = clean_env(HOME=str(tmp_path))
    args = [str(BIN / "orthrus-lab"), "join", classroom.url, "--ca", str(other.ca)]
    result = run([*args, "--dir", str(tmp_path / "class")], env)
    assert result.returncode == 1 and "cannot reach the class KDC" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "class" / "class.json").exists()


def test_serve_refuses_a_host_the_certificate_does_not_name(classroom: Classroom) -> None:
    result = lab(
        "class", "serve", "--dir", str(classroom.root), "--host", "192.0.2.7", "--port", "1"
    )
    assert result.returncode == 1 and "the class certificate names" in result.stderr
    assert "Traceback" not in result.stderr


def test_students_are_graded_from_what_the_class_server_recorded(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    assert classroom.grades("ann")["1"] == "passed"
    assert classroom.grades("ann")["2"] == "passed"
    assert classroom.grades("ben")["2"] == "passed"
    cat = classroom.grades("cat")
    assert cat["1"] == "passed" and cat["2"] == "2/3 steps"  # no ticket for her legacy service


def test_clock_skew_is_graded_from_the_ticket_inside_a_refused_request(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    ben = students["ben"]
    refused = ben.whoami(offset=900)
    assert refused.returncode != 0 and "KRB_AP_ERR_SKEW" in refused.stdout + refused.stderr
    assert classroom.grades("ben")["4"] == "1/2 steps"
    accepted = ben.whoami(offset=120)
    assert accepted.returncode == 0, accepted.stderr
    assert classroom.grades("ben")["4"] == "passed"
    assert classroom.grades("ann")["4"] == "not started"  # ben's evidence is his own


def curl_whoami(student: ClassStudent, token: str) -> subprocess.CompletedProcess[str]:
    """curl, as the class page shows it: the token in the header, the class CA trusted."""
    header = f"Authorization: Ticket {token}"
    url = f"{student.env['LAB_NOTES']}/whoami"
    ca = student.env["ORTHRUS_CA_FILE"]
    return run(["curl", "-sS", "--cacert", ca, "-H", header, url], student.env)


def test_a_replay_is_graded_from_the_class_services_records(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    """ben captures his own AP-REQ (orthrus token) and sends it twice with curl: the class
    service refuses the second, and exercise 5 passes for ben alone. cat sends ben's token
    again, as an eavesdropper would: refused, and it counts for ben's ticket, not for cat."""
    ben, cat = students["ben"], students["cat"]
    assert classroom.grades("ben")["5"] == "not started"
    made = ben.orthrus("token", "--method", "GET", "--path", "/whoami", "HTTP/notes")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert f"ben@{classroom.report()['realm']}" in curl_whoami(ben, token).stdout
    assert classroom.grades("ben")["5"] == "not started"
    assert "KRB_AP_ERR_REPEAT" in curl_whoami(ben, token).stdout
    assert classroom.grades("ben")["5"] == "passed"
    assert "KRB_AP_ERR_REPEAT" in curl_whoami(cat, token).stdout
    assert classroom.grades("cat")["5"] == "not started"
    row = next(s for s in classroom.report()["students"] if s["student"] == "ben")
    assert [s["step"] for s in row["results"]["5"]["steps"]] == [
        "replay a captured AP-REQ while the replay cache is on: refused"
    ]


def _forged_lines(principal: str, realm: str) -> str:
    """The issue's forgeries: hand-written AS lines, a TGS and an AP line, crack lines."""
    now = 4102444800.0  # a ``time`` far in the future: filters by time must not help either
    ticket = {"server": f"HTTP/notes@{realm}", "kvno": 1, "enc_part": "e30.x.y.z.w"}
    lines = [
        {"v": 1, "time": now, "component": "kdc", "exchange": "AS", "ok": False,
         "client": principal, "error": "KDC_ERR_PREAUTH_REQUIRED"},
        {"v": 1, "time": now + 1, "component": "kdc", "exchange": "AS", "ok": True,
         "client": principal, "request": {"padata": [{"type": 2, "value": "x"}]},
         "reply": {"ticket": {"enc_part": "tgt.x.y.z.w"}}},
        {"v": 1, "time": now + 2, "component": "kdc", "exchange": "TGS", "ok": True,
         "client": principal, "request": {"ap_req": {"ticket": {"enc_part": "tgt.x.y.z.w"}},
                                          "body": {"server": f"HTTP/legacy@{realm}"}},
         "reply": {"ticket": ticket}},
        {"v": 1, "time": now + 3, "component": "notes", "exchange": "AP", "ok": True,
         "client": principal, "error": "KRB_AP_ERR_SKEW", "request": {"ticket": ticket}},
        *({"v": 1, "time": now + 4 + i, "component": "notes", "exchange": "AP", "ok": not i,
           "client": principal, "error": "KRB_AP_ERR_REPEAT" if i else None, "token": "t",
           "labels": {"replay_cache": "on"}, "request": {"ticket": ticket}} for i in (0, 1)),
    ]  # fmt: skip
    return "".join(json.dumps(line) + "\n" for line in lines)


def _forged_activity(principal: str) -> str:
    acts = [
        {"time": 4102444800.0, "action": "crack", "mode": "as-rep", "result": "found",
         "target": principal, "password": "sunshine", "event": 2},
        {"time": 4102444801.0, "action": "crack", "mode": "ticket", "result": "found",
         "target": "HTTP/legacy", "password": "baseball1", "ticket": "x"},
    ]  # fmt: skip
    return "".join(json.dumps(a) + "\n" for a in acts)


def _weak_password_of(classroom: Classroom, name: str) -> str:
    """The word of the lab's list a class principal was keyed from, found as the instructor
    can: against its stored RFC 3962 key (PBKDF2, cheap), not its Argon2id key."""
    from kdc.kerberos_keys import default_salt
    from labs.classroom.realm import WORDLIST
    from orthrus.enctypes import enctype

    store = Store.open(load_settings(class_paths(classroom.root).kdc, env={}))
    principal = Principal.parse(f"{name}@CLASS.TEST")
    entry = store.lookup(principal)
    assert entry is not None
    stored = next(k for k in entry.kerberos_keys if k.salt is not None)
    kind = enctype(stored.enctype)
    params = (stored.iterations or 0).to_bytes(4, "big")
    for word in WORDLIST.read_text().split():
        if kind.string_to_key(word, default_salt(principal), params) == stored.key:
            return word
    raise AssertionError(f"{name}'s password is not in the lab's word list")


def _wordlist(student: ClassStudent, password: str) -> Path:
    path = student.home / "words.txt"
    path.write_text(f"not-it\n{password}\n")
    return path


def test_offline_cracks_are_graded_by_logging_in_with_the_cracked_password(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    """Exercise 11: ann cracks her HTTP/legacy-ann (the lab's crack, in her joined shell,
    against the class KDC) and logs in as it; exercise 7: cat cracks carol-cat from its AS
    reply and uses its TGT. Only the login with the password counts, and only for its owner."""
    ann, cat = students["ann"], students["cat"]
    assert classroom.grades("ann")["11"] == "1/2 steps"  # her ticket for HTTP/legacy-ann
    legacy = _weak_password_of(classroom, "HTTP/legacy-ann")
    lab_cmd = [str(BIN / "orthrus-lab"), "crack"]
    words = ["--wordlist", str(_wordlist(ann, legacy))]
    cracked = run([*lab_cmd, "--ticket", "HTTP/legacy-ann", *words], ann.env)
    assert cracked.returncode == 0, cracked.stderr
    assert f"Found the password of HTTP/legacy-ann@CLASS.TEST: {legacy}" in cracked.stdout
    assert classroom.grades("ann")["11"] == "1/2 steps"  # the crack alone proves nothing here
    cache = {"ORTHRUS_CCACHE": str(ann.home / "legacy.cc")}
    login = run([str(BIN / "orthrus"), "kinit", "HTTP/legacy-ann"], {**ann.env, **cache}, legacy)
    assert login.returncode == 0, login.stderr
    assert classroom.grades("ann")["11"] == "passed"
    assert classroom.grades("ben")["11"] == "1/2 steps"

    assert classroom.grades("cat")["7"] == "not started"
    carol = _weak_password_of(classroom, "carol-cat")
    words = ["--wordlist", str(_wordlist(cat, carol))]
    cracked = run([*lab_cmd, "carol-cat", *words], cat.env)
    assert cracked.returncode == 0, cracked.stderr
    assert f"Found the password of carol-cat@CLASS.TEST: {carol}" in cracked.stdout
    assert classroom.grades("cat")["7"] == "1/2 steps"
    cache = {"ORTHRUS_CCACHE": str(cat.home / "carol.cc")}
    login = run([str(BIN / "orthrus"), "kinit", "carol-cat"], {**cat.env, **cache}, carol)
    assert login.returncode == 0, login.stderr
    used = run([str(BIN / "orthrus"), "kvno", "HTTP/notes"], {**cat.env, **cache})
    assert used.returncode == 0, used.stderr
    assert classroom.grades("cat")["7"] == "passed"
    assert classroom.grades("ann")["7"] == "not started"


def test_forged_lines_in_every_file_a_student_reaches_do_not_change_a_grade(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    cat = students["cat"]
    before = classroom.report()
    realm = before["realm"]
    principal = f"cat@{realm}"
    traces = [
        cat.home / "lab" / "kdc" / "trace.jsonl",  # where a local lab keeps its trace
        cat.home / "class" / "trace.jsonl",  # beside the class settings join saved
        cat.home / "copied-trace.jsonl",  # a copy of a trace, edited
    ]
    for path in traces:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_forged_lines(principal, realm))
    for path in (cat.home / "lab" / "activity.jsonl", cat.home / "class" / "activity.jsonl"):
        path.write_text(_forged_activity(principal))
    with (cat.home / "class" / "class.json").open("a") as saved:
        saved.write(_forged_lines(principal, realm))
    after = classroom.report()
    for document in (before, after):
        document.pop("generated")
    assert after == before
    cat_grades = classroom.grades("cat")
    assert cat_grades["2"] == "2/3 steps" and cat_grades["4"] == "not started"
    assert cat_grades["5"] == "not started"


def test_another_students_evidence_never_counts(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    """cat asks the KDC for a TGT in ann's name (no password: only the pre-authentication
    demand comes back) and holds no ticket of ann's: ann's exercises do not pass for cat."""
    cat = students["cat"]
    probe = cat.orthrus("kinit", "ann", stdin="not-anns-password\n")
    assert probe.returncode != 0
    report = classroom.report()
    row = {s["student"]: s for s in report["students"]}
    cat_steps = row["cat"]["results"]["2"]["steps"]
    assert not cat_steps[2]["done"]  # ann's ticket for HTTP/legacy-ann is not cat's
    assert all("ann@" not in step["detail"] for step in cat_steps)
    assert row["ann"]["results"]["2"]["passed"]


def test_a_ticket_forged_with_a_leaked_service_key_counts_for_nobody(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    """cat holds the notes key (a leaked keytab) and mints a ticket naming ann, sent from a
    clock 15 minutes off: the service refuses it, and its ticket — sealed under the right
    key, naming ann — was never issued by the KDC, so the event counts for no one."""
    cat = students["cat"]
    paths = class_paths(classroom.root)
    state = ClassState.load(paths)
    realm = state.realm
    before = classroom.report()
    own = Lab(LabPaths.of(cat.home / "lab"), LabState(realm, [], []))
    own.paths.root.mkdir(parents=True, exist_ok=True)
    forged = cat.home / "forged.ccache"
    forge_ticket(
        own,
        paths.keytab("notes"),
        Principal.parse(f"HTTP/notes@{realm}"),
        Principal.parse(f"ann@{realm}"),
        (),
        forged,
    )
    cat.env["ORTHRUS_CCACHE"] = str(forged)
    try:
        sent = cat.whoami(offset=900)
    finally:
        cat.env["ORTHRUS_CCACHE"] = str(cat.home / "class" / "ccache")
    assert sent.returncode != 0
    event = read_trace(paths.trace, lambda _: None)[-1]
    assert event.component == "notes" and not event.ok
    store = Store.open(load_settings(paths.kdc, env={}))
    decoder = Decoder(StoreKeys(store), "test")
    events = read_trace(paths.trace, lambda _: None)
    decoder.feed(events)
    opened = decoder.part(event, "request.ticket.enc_part")
    assert opened is not None and opened.fields is not None
    assert opened.fields["client"] == f"ann@{realm}"  # the forgery does name ann
    issued = {
        ticket_id(e.get("reply.ticket.enc_part"))
        for e in events
        if e.component == "kdc" and isinstance(e.get("reply.ticket.enc_part"), str)
    }
    assert attributed_client(event, decoder, issued) is None
    after = classroom.report()
    for document in (before, after):
        document.pop("generated")
    assert after == before


MIT_TOOLS = ("kinit", "kvno")


def _mit(student: ClassStudent, *args: str, cache: str = "", stdin: str = "") -> Any:
    """One of MIT's programs in the student's joined shell (KRB5_CONFIG from join), with the
    credential cache ``cache`` in the student's home (default: the one join named)."""
    env = dict(student.env)
    if cache:
        env["KRB5CCNAME"] = f"FILE:{student.home / cache}"
    return run(list(args), env, stdin)


def test_mit_tools_on_the_class_kerberos_port_are_graded_per_student(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    """Exercises 16-18 against the class server: MIT's kinit and kvno on the class KDC's
    Kerberos port (the krb5.conf join wrote), graded from what the class KDC recorded, by the
    principal the realm authenticated. ben does all three; cat's try at ben's carol and
    ann's work elsewhere count for neither of them."""
    missing = [tool for tool in MIT_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"MIT Kerberos's {', '.join(missing)} not installed (apt-get install krb5-user)"
        )
    ben, cat = students["ben"], students["cat"]
    conf = Path(ben.env["KRB5_CONFIG"])
    assert conf.parent == ben.home / "class"
    assert f"kdc = 127.0.0.1:{classroom.port + 3}" in conf.read_text()
    assert ben.env["KRB5CCNAME"] == f"FILE:{ben.home / 'class' / 'krb5cc'}"
    for exercise in ("16", "17", "18"):
        assert classroom.grades("ben")[exercise] == "not started"

    # 16: kinit (PA-ENC-TIMESTAMP over the wire), then kvno.
    login = _mit(ben, "kinit", "ben", stdin=ben.password + "\n")
    assert login.returncode == 0, login.stderr
    assert classroom.grades("ben")["16"] == "1/2 steps"
    ticket = _mit(ben, "kvno", "HTTP/notes")
    assert ticket.returncode == 0, ticket.stderr
    assert classroom.grades("ben")["16"] == "passed"
    assert classroom.grades("ann")["16"] == "not started"

    # 17: carol-ben's AS-REP with no password; cracked; its TGT used.
    asked = _mit(ben, "kinit", "carol-ben", cache="carol.cc", stdin="no-idea\n")
    assert asked.returncode != 0  # the KDC answered before any password was typed
    assert classroom.grades("ben")["17"] == "1/2 steps"
    tried = _mit(cat, "kinit", "carol-ben", cache="carol.cc", stdin="no-idea\n")
    assert tried.returncode != 0
    carol = _weak_password_of(classroom, "carol-ben")
    words = ["--wordlist", str(_wordlist(ben, carol))]
    cracked = run([str(BIN / "orthrus-lab"), "crack", "carol-ben", *words], ben.env)
    assert f"Found the password of carol-ben@CLASS.TEST: {carol}" in cracked.stdout
    assert _mit(ben, "kinit", "carol-ben", cache="carol.cc", stdin=carol + "\n").returncode == 0
    assert classroom.grades("ben")["17"] == "1/2 steps"  # the password alone proves nothing
    used = _mit(ben, "kvno", "HTTP/notes", cache="carol.cc")
    assert used.returncode == 0, used.stderr
    assert classroom.grades("ben")["17"] == "passed"
    assert classroom.grades("cat")["17"] == "not started"  # carol-ben is not cat's

    # 18: a ticket for HTTP/legacy-ben over the wire; cracked; a login as it.
    roasted = _mit(ben, "kvno", "HTTP/legacy-ben")
    assert roasted.returncode == 0, roasted.stderr
    assert classroom.grades("ben")["18"] == "1/2 steps"
    legacy = _weak_password_of(classroom, "HTTP/legacy-ben")
    words = ["--wordlist", str(_wordlist(ben, legacy))]
    crack = [str(BIN / "orthrus-lab"), "crack", "--ticket", "HTTP/legacy-ben", *words]
    assert f"password of HTTP/legacy-ben@CLASS.TEST: {legacy}" in run(crack, ben.env).stdout
    proof = _mit(ben, "kinit", "HTTP/legacy-ben", cache="legacy.cc", stdin=legacy + "\n")
    assert proof.returncode == 0, proof.stderr
    assert classroom.grades("ben")["18"] == "passed"
    # ann logged in as her own HTTP/legacy-ann (exercise 11), never with a wire ticket.
    assert classroom.grades("ann")["18"] != "passed"
    assert classroom.grades("cat")["16"] == "not started"


def test_the_answer_key_is_the_instructors_in_a_class(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    """A shell that joined the class is refused the answer key, also naming its own join
    directory as a class; the instructor, naming the class directory, gets it."""
    ann = students["ann"]
    assert ann.env["ORTHRUS_LAB_CLASS"] == str(ann.home / "class")
    refused = lab("answers", "1", env=ann.env)
    assert refused.returncode == 1 and "your instructor's; ask them" in refused.stderr
    assert "nonce" not in refused.stdout
    own = lab("answers", "1", "--class", str(ann.home / "class"), env=ann.env)
    assert own.returncode == 1 and "is not a class you run" in own.stderr
    instructor = lab("answers", "1", "--class", str(classroom.root), env=ann.env)
    assert instructor.returncode == 0, instructor.stderr
    assert "1. First login" in instructor.stdout


def test_report_json_and_csv(classroom: Classroom, students: dict[str, ClassStudent]) -> None:
    exported = lab("class", "report", "--dir", str(classroom.root), "--json")
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    in_process = classroom.report()
    assert document["students"] == in_process["students"]
    assert [s["student"] for s in document["students"]] == list(STUDENTS)
    graded = {e["exercise"]: e["graded"] for e in document["exercises"]}
    assert graded[1] and graded[2] and graded[7] and graded[11] and not graded[3]
    notes = {e["exercise"]: e["note"] for e in document["exercises"]}
    assert notes[3].startswith("self-check only") and notes[7].startswith("graded")
    result = lab("class", "report", "--dir", str(classroom.root), "--csv")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0].startswith("student,exercise 1,exercise 2,exercise 3")
    ann = rows[1].split(",")
    assert ann[:3] == ["ann", "passed", "passed"] and ann[3] == "self-check only"
    neither = lab("class", "report", "--dir", str(classroom.root))
    assert neither.returncode == 2 and "--json or --csv" in neither.stderr


def test_the_dashboard_grid_is_the_instructors_alone(
    classroom: Classroom, students: dict[str, ClassStudent]
) -> None:
    """A student with an account on the class server's machine reaches its loopback: the grid
    still answers only the token class serve wrote (mode 0600) and class dashboard prints in
    the URL's fragment, which no request carries."""
    import httpx

    shown = lab("class", "dashboard", "--dir", str(classroom.root))
    url, _, fragment = shown.stdout.strip().partition("#token=")
    token_file = classroom.root / "dashboard.token"
    assert fragment == token_file.read_text().strip() and len(fragment) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert httpx.get(url, timeout=10).status_code == 200  # the page itself holds no grades
    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": fragment}):
        refused = httpx.get(f"{url}api/grid", headers=header, timeout=10)
        assert refused.status_code == 403 and "the instructor's" in refused.json()["error"]
        assert "ann" not in refused.text
    granted = httpx.get(f"{url}api/grid", headers={"Authorization": f"Bearer {fragment}"})
    assert granted.status_code == 200
    assert [s["student"] for s in granted.json()["students"]] == list(STUDENTS)


def test_the_class_trace_is_decoded_with_every_key_on_the_dashboard_only(
    classroom: Classroom, students: dict[str, ClassStudent], tmp_path: Path
) -> None:
    """The instructor's every-key view exists in class mode, on the dashboard, with its token:
    in chromium, the dashboard's link opens the class trace decoded as instructor (a
    student's TGT and service ticket opened with the KDC's database, its KDC signature verified);
    the same page without the token is refused, saying whose it is."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (make install)"
    )
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make browser installs it as root)")
    url = lab("class", "dashboard", "--dir", str(classroom.root)).stdout.strip()
    base = url.partition("#")[0]
    paths = class_paths(classroom.root)
    ticket = next(
        e
        for e in read_trace(paths.trace, lambda _: None)
        if e.exchange == "TGS" and e.ok and e.client == f"ann@{ClassState.load(paths).realm}"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_selector("#grid tbody tr[data-student='ann']", timeout=15_000)
            page.click("#trace-link")
            page.wait_for_selector("#viewer option[value='instructor']", state="attached")
            offered = page.eval_on_selector_all("#viewer option", "os => os.map(o => o.value)")
            assert offered == ["", "instructor"]
            page.select_option("#viewer", "instructor")
            arrow = f".event[data-id='{ticket.id}'] .arrow.request"
            page.wait_for_selector(arrow, timeout=30_000)
            page.click(arrow)
            text = page.inner_text(f"#details-{ticket.id}")
            assert "opened with the KDC's database" in text and "ann@" in text
            assert "KDC signature on the authorization data: signed by the KDC" in text
            shot = tmp_path / "class-trace.png"
            page.screenshot(path=str(shot))
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

            bare = browser.new_page()
            bare.goto(f"{base}trace/")
            bare.wait_for_function(
                "() => document.getElementById('live').textContent.startsWith('not live')",
                timeout=15_000,
            )
            assert "the dashboard is the instructor's" in bare.inner_text("#live")
            assert not bare.query_selector_all(".event")
        finally:
            browser.close()
    if os.environ.get("ORTHRUS_CLASS_TRACE_SCREENSHOT"):
        shutil.copy(shot, os.environ["ORTHRUS_CLASS_TRACE_SCREENSHOT"])


def test_dashboard_shows_the_grid_live_in_chromium(
    classroom: Classroom, students: dict[str, ClassStudent], tmp_path: Path
) -> None:
    """Last in the module: it gives cat the ticket her exercise 2 lacked, and watches the
    page turn that cell green without a reload."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (make install)"
    )
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make browser installs it as root)")
    shown = lab("class", "dashboard", "--dir", str(classroom.root))
    assert shown.returncode == 0, shown.stderr
    url = shown.stdout.strip()
    assert url.startswith("http://127.0.0.1:") and "#token=" in url
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 560})
            page.goto(url)
            page.wait_for_selector("#grid tbody tr[data-student='cat']", timeout=15_000)
            rows = page.eval_on_selector_all("#grid tbody tr", "r => r.map(x => x.dataset.student)")
            assert rows == list(STUDENTS)
            ann_1 = page.locator("tr[data-student='ann'] td[data-exercise='1']")
            assert ann_1.inner_text() == "passed" and ann_1.get_attribute("class") == "passed"
            self_check = page.locator("tr[data-student='ann'] td[data-exercise='3']")
            assert self_check.inner_text() == "self-check only"
            assert "decoding with your own keys" in (self_check.get_attribute("title") or "")
            cat_2 = "tr[data-student='cat'] td[data-exercise='2']"
            assert page.inner_text(cat_2) == "2/3 steps"

            assert students["cat"].kvno("HTTP/legacy-cat").returncode == 0
            page.wait_for_function(
                f"() => document.querySelector(\"{cat_2}\").textContent === 'passed'",
                timeout=15_000,
            )
            assert page.inner_text("#live") == "● live"
            shot = tmp_path / "class-dashboard.png"
            page.screenshot(path=str(shot))
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        finally:
            browser.close()
    if os.environ.get("ORTHRUS_CLASS_SCREENSHOT"):
        shutil.copy(shot, os.environ["ORTHRUS_CLASS_SCREENSHOT"])
