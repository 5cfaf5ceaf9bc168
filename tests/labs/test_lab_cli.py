"""What ``orthrus-lab`` does with bad input: no lab, a lab that is down, ``up`` twice, a port
in use, stale pid files after a crash, a damaged trace; and ``--help``, ``show``, ``env``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from lab_support import orthrus_lab

from labs.answers import answer_section
from labs.checks import EXERCISES
from labs.cli import cli
from labs.lab import Lab, create_lab
from labs.procs import choose_port, read_proc, running
from labs.state import LabPaths
from labs.tracefile import follow_trace, read_trace
from orthrus.errors import ConfigError
from orthrus_io.events import ExchangeEvent
from orthrus_io.trace import trace_record


@pytest.fixture(scope="module")
def down_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab created but never started."""
    paths = LabPaths.of(tmp_path_factory.mktemp("down") / "lab")
    create_lab(paths, lambda _: None)
    lab = Lab.open(paths)
    yield lab
    orthrus_lab("down", "--dir", str(paths.root))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_no_lab_says_how_to_start_one(tmp_path: Path) -> None:
    result = orthrus_lab("status", "--dir", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "no lab in" in result.stderr and "orthrus-lab up --dir" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_lab_that_is_down_says_so_and_how_to_start_it(down_lab: Lab) -> None:
    root = str(down_lab.paths.root)
    result = orthrus_lab("replay", "1", "--dir", root)
    assert result.returncode == 1
    assert "is not up" in result.stderr and f"orthrus-lab up --dir {root}" in result.stderr
    for args in (["crack", "carol"], ["switch", "notes", "authz", "off"], ["tamper", "1"]):
        failed = invoke(*args, "--dir", root)
        assert "is not up" in str(failed.exception), args
    # Reading what was recorded still works, with a warning.
    shown = invoke("trace", "--dir", root)
    assert shown.exit_code == 0
    assert "is not up" in shown.stderr and "trace is empty" in shown.stdout


def test_up_twice_starts_nothing_more(lab: Lab) -> None:
    before = {name: read_proc(lab.paths, name) for name in ("kdc", "notes", "legacy", "impostor")}
    result = invoke("up", "--dir", str(lab.paths.root))
    assert result.exit_code == 0
    assert "already up; nothing started" in result.stdout
    after = {name: read_proc(lab.paths, name) for name in before}
    assert after == before
    assert all(info is not None and running(info) for info in after.values())


def test_a_port_in_use_is_reported_with_the_next_free_one(down_lab: Lab) -> None:
    said: list[str] = []
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert choose_port(port, set(), said.append) > port
        assert said == [f"port {port} is in use; using {choose_port(port, set(), print)} instead"]
        # A real process too: the web page asked for a busy port.
        root = str(down_lab.paths.root)
        started = invoke("web", "--dir", root, "--port", str(port))
        try:
            assert started.exit_code == 0, started.output
            assert f"port {port} is in use; using" in started.stdout
            info = read_proc(down_lab.paths, "web")
            assert info is not None and info.port != port and running(info)
        finally:
            stopped = invoke("down", "--dir", root)
    assert "web: stopped" in stopped.stdout
    assert not down_lab.paths.pidfile("web").exists()


def test_down_after_a_crash_removes_stale_pid_files_and_kills_nothing_else(down_lab: Lab) -> None:
    paths = down_lab.paths
    paths.run.mkdir(exist_ok=True)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = {"pid": int(gone), "port": 1, "started": "1", "command": ["crashed"]}
    paths.pidfile("kdc").write_text(json.dumps(stale))
    # A pid that is alive but not ours (this test's own process, another start time):
    reused = {"pid": os.getpid(), "port": 2, "started": "1", "command": ["reused"]}
    paths.pidfile("notes").write_text(json.dumps(reused))
    paths.pidfile("legacy").write_text("{not json")
    result = orthrus_lab("down", "--dir", str(paths.root))
    assert result.returncode == 0, result.stderr
    assert f"kdc: removed a stale pid file (process {gone} was already gone)" in result.stdout
    assert f"notes: removed a stale pid file (process {os.getpid()}" in result.stdout
    assert "legacy: removed an unreadable pid file" in result.stdout
    assert list(paths.run.glob("*.pid")) == []  # and this process is still alive to see it


def test_a_damaged_trace_line_is_skipped_with_a_warning(down_lab: Lab) -> None:
    event = ExchangeEvent(
        "AS", False, 1795770000.0, client="alice@LAB.TEST", error="KRB_ERR_GENERIC"
    )
    good = json.dumps(trace_record(event, "kdc"))
    down_lab.paths.trace.write_text(f"{good}\nnot json at all\n[1, 2]\n{good}\n{good[:40]}")
    warnings: list[str] = []
    events = read_trace(down_lab.paths.trace, warnings.append)
    assert [e.id for e in events] == [1, 4]
    assert warnings == [
        "trace line 2 is not valid JSON; skipped",
        "trace line 3 is not a trace record (not a JSON object); skipped",
        "trace line 5 is cut short (a crash while writing?); skipped",
    ]
    shown = invoke("trace", "--brief", "--dir", str(down_lab.paths.root))
    assert shown.exit_code == 0
    assert "trace line 2 is not valid JSON; skipped" in shown.stderr
    assert "#1" in shown.stdout and "#4" in shown.stdout
    graded = invoke("check", "--all", "--json", "--dir", str(down_lab.paths.root))
    assert graded.exit_code == 1 and len(json.loads(graded.stdout)) == len(EXERCISES)
    down_lab.paths.trace.unlink()


def test_every_command_has_help() -> None:
    for command in cli.commands:
        result = invoke(command, "--help")
        assert result.exit_code == 0, command
        # show and answers read docs/labs/, not a lab directory
        assert "--dir" in result.stdout or command in ("show", "answers"), command


def test_show_renders_each_exercise_and_refuses_others() -> None:
    for number in range(1, len(EXERCISES) + 1):
        shown = invoke("show", str(number))
        assert shown.exit_code == 0
        text = shown.stdout
        for heading in ("Goal", "Background", "Steps", "Questions", "Check"):
            assert heading in text, (number, heading)
        assert f"orthrus-lab check {number}" in text
    beyond = len(EXERCISES) + 1
    missing = invoke("show", str(beyond))
    assert f"there is no exercise {beyond}" in str(missing.exception)


def test_answers_prints_each_exercises_answer_key_section() -> None:
    for number in range(1, len(EXERCISES) + 1):
        shown = invoke("answers", str(number))
        assert shown.exit_code == 0, shown.output
        heading = shown.stdout.strip().splitlines()[0].strip()
        assert heading.startswith(f"{number}. "), heading
    beyond = len(EXERCISES) + 1
    assert f"there is no exercise {beyond}" in str(invoke("answers", str(beyond)).exception)


def test_answers_section_is_one_heading_to_the_next() -> None:
    text = "# Key\n\nintro\n\n## 1. One\n\n1. a\n2. b\n\n## 2. Two\n\n```\n## 3. no\n```\n"
    assert answer_section(text, 1) == "## 1. One\n\n1. a\n2. b\n"
    assert answer_section(text, 2) == "## 2. Two\n\n```\n## 3. no\n```\n"
    with pytest.raises(ConfigError, match="no answers for exercise 3"):
        answer_section(text, 3)


def test_show_wraps_at_a_narrow_terminal_and_loses_no_text() -> None:
    """The instructions wrap at the terminal's width; nothing is cut off at its edge."""
    shown = orthrus_lab("show", "1", env={"COLUMNS": "60"})
    assert shown.returncode == 0, shown.stderr
    assert max(len(line) for line in shown.stdout.splitlines()) <= 60
    words = " ".join(shown.stdout.split())
    assert "before it answers (pre-authentication)" in words
    assert 'orthrus-lab env alice)"' in words and "alice-lab-pass" in words


def test_env_and_status_json(lab: Lab) -> None:
    exported = invoke("env", "bob", "--dir", str(lab.paths.root)).stdout
    assert f"export ORTHRUS_KDC_URL='{lab.url('kdc')}'" in exported
    assert f"export ORTHRUS_CCACHE='{lab.paths.ccache('bob')}'" in exported
    assert f"export LAB_NOTES='{lab.url('notes')}'" in exported
    status = json.loads(invoke("status", "--json", "--dir", str(lab.paths.root)).stdout)
    assert status["up"] is True and status["realm"] == "LAB.TEST"
    assert status["processes"]["kdc"]["url"] == lab.url("kdc")
    assert {"notes", "legacy"} <= set(status["services"])
    assert status["users"]["carol"]["preauth"] is False


def test_follow_yields_events_as_they_are_appended(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    line = json.dumps(trace_record(ExchangeEvent("AS", True, 1795770000.0), "kdc"))
    trace.write_text(line + "\n")
    warnings: list[str] = []
    follow = follow_trace(trace, warnings.append, after=0, poll=0.01)
    assert next(follow).id == 1
    with trace.open("a") as handle:
        handle.write("garbage\n" + line[:30])  # then the rest of the line, in a second write
        handle.flush()
        handle.write(line[30:] + "\n")
    assert next(follow).id == 3
    assert warnings == ["trace line 2 is not valid JSON; skipped"]


def test_reset_refuses_a_directory_that_is_not_a_lab(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = invoke("reset", "--dir", str(tmp_path))
    assert "not a lab directory" in str(result.exception)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_lab_json_keeps_no_service_password(down_lab: Lab) -> None:
    """Exercise 11 asks for legacy's password: reading lab.json must not answer it."""
    text = down_lab.paths.state.read_text()
    assert "baseball1" not in text
    assert json.loads(text)["services"][1]["weak"] is True
    assert Lab.open(down_lab.paths).state.service("legacy").weak


def test_local_check_says_it_is_a_self_check(down_lab: Lab) -> None:
    result = CliRunner().invoke(cli, ["check", "1", "--dir", str(down_lab.paths.root)])
    assert result.exit_code == 1
    assert "Self-check of what this machine recorded" in result.output
    assert "not a grade" in result.output and "class server" in result.output


def test_trace_as_instructor_is_refused_in_a_local_lab_saying_why(down_lab: Lab) -> None:
    """The every-key view is the class instructor's; a local trace decodes as a user, a
    service, or the KDC once exercise 12 hands out its key."""
    root = str(down_lab.paths.root)
    refused = orthrus_lab("trace", "--as", "instructor", "--dir", root)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "a local lab has no instructor view" in refused.stderr
    assert "class dashboard" in refused.stderr
    kdc = orthrus_lab("trace", "--as", "kdc", "--dir", root)
    assert kdc.returncode == 2 and "exercise 12 hands you" in kdc.stderr
    assert invoke("trace", "--as", "notes", "--dir", root).exit_code == 0
