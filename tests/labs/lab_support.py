"""Helpers of the lab tests: a student driving the client library, the real and in-process
``orthrus-lab``, and reading the lab's trace and grades (a uniquely named module, so the
test files import it rather than ``conftest``)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from support import BIN, clean_env

from client_lib.api import Client
from client_lib.config import ClientSettings
from client_lib.http_auth import HttpxTicketAuth, TicketAuthenticator
from labs.checks import CheckResult, Evidence, grade
from labs.lab import Lab
from labs.tracefile import TraceEvent, read_trace
from orthrus.principal import Principal


def orthrus_lab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``orthrus-lab`` command line."""
    return subprocess.run(
        [str(BIN / "orthrus-lab"), *args],
        capture_output=True,
        text=True,
        env=clean_env(**(env or {})),
        timeout=120,
    )


@dataclass
class Student:
    """A lab user, driving the client library as ``orthrus`` would."""

    lab: Lab
    name: str
    ccache: Path | None = None

    @property
    def principal(self) -> Principal:
        return Principal.parse(self.lab.state.user(self.name).principal(self.lab.state.realm))

    def client(self, offset: float = 0.0) -> Client:
        settings = ClientSettings(
            kdc_url=self.lab.url("kdc"),
            ccache=str(self.ccache or self.lab.paths.ccache(self.name)),
            realm=self.lab.state.realm,
        )
        return Client(settings, clock=lambda: time.time() + offset)

    def kinit(self) -> None:
        client = self.client()
        client.login(self.principal, self.lab.state.user(self.name).password)
        client.close()

    def kvno(self, *services: str) -> list[int]:
        client = self.client()
        try:
            return [
                client.get_service_ticket(
                    Principal.parse(f"{s}@{self.lab.state.realm}")
                ).ticket.kvno
                for s in services
            ]
        finally:
            client.close()

    def fetch(
        self,
        component: str,
        path: str = "/whoami",
        service: str = "HTTP/notes",
        mutual: bool = False,
        offset: float = 0.0,
    ) -> httpx.Response:
        client = self.client(offset)
        principal = Principal.parse(f"{service}@{self.lab.state.realm}")
        auth = HttpxTicketAuth(TicketAuthenticator(client, principal, mutual=mutual))
        try:
            return httpx.get(f"{self.lab.url(component)}{path}", auth=auth, timeout=10)
        finally:
            client.close()


def events(lab: Lab, since: float = 0.0) -> list[TraceEvent]:
    return read_trace(lab.paths.trace, lambda w: None, since)


def last(lab: Lab, **conditions: Any) -> TraceEvent:
    """The newest event matching ``conditions`` (attribute=value)."""
    for event in reversed(events(lab)):
        if all(getattr(event, k) == v for k, v in conditions.items()):
            return event
    raise AssertionError(f"no event with {conditions}")


def check(lab: Lab, number: int, since: float) -> CheckResult:
    return grade(Evidence.gather(lab, since), [number])[0]


def missing(result: CheckResult) -> list[str]:
    return [s.text for s in result.steps if not s.done]


def kdc_admin(lab: Lab, *args: str) -> None:
    """``orthrus-kdc --dir LAB/kdc ARGS``, the real administrator's command, as the docs show."""
    done = subprocess.run(
        [str(BIN / "orthrus-kdc"), "--dir", str(lab.paths.kdc), *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def lab_cli(lab: Lab, *args: str, env: dict[str, str] | None = None) -> Any:
    """``orthrus-lab ARGS --dir LAB`` in-process (no interpreter start-up)."""
    from labs.cli import cli

    result = CliRunner().invoke(
        cli, [*args, "--dir", str(lab.paths.root)], env=env, catch_exceptions=False
    )
    return result
