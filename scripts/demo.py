"""`make demo`: the whole Orthrus story on a throwaway realm, in under a screen.

Creates a realm in a temporary directory, starts the KDC and `service_demo` on free
127.0.0.1 ports, adds alice (group admins) and bob, logs both in, and shows: alice calling
the service and the identity it saw; bob refused the admin page (403); a request without a
ticket answered 401 with the challenge; a captured request replayed and refused
(KRB_AP_ERR_REPEAT); a tampered ticket refused (KRB_AP_ERR_MODIFIED); mutual authentication
checked by the client, against the real service and an impostor; `orthrus klist`. It stops
every process it started and removes the realm.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape

BIN = Path(sys.executable).parent
REALM = "EXAMPLE.TEST"
console = Console(highlight=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Demo:
    """The realm, its processes and the users' environments."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.kdc_port, self.service_port = free_port(), free_port()
        self.processes: list[subprocess.Popen[bytes]] = []
        base = {k: v for k, v in os.environ.items() if not k.startswith("ORTHRUS_")}
        base |= {"ORTHRUS_KDC_DIR": str(work / "kdc"), "ORTHRUS_CONFIG": os.devnull}
        base["ORTHRUS_KDC_URL"] = f"http://127.0.0.1:{self.kdc_port}"
        self.env = base
        self.service = f"http://localhost:{self.service_port}"

    def user_env(self, user: str) -> dict[str, str]:
        return {**self.env, "ORTHRUS_CCACHE": str(self.work / f"{user}.cc")}

    def run(self, *args: str, user: str | None = None, stdin: str | None = None) -> str:
        """Run a CLI as a user would; show the command and its output."""
        shown = " ".join(args)
        console.print(f"[bold cyan]{'(' + user + ') ' if user else ''}$ {escape(shown)}[/]")
        result = subprocess.run(
            [str(BIN / args[0]), *args[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.user_env(user) if user else self.env,
            timeout=60,
        )
        output = (result.stdout + result.stderr).strip()
        if args[:2] == ("orthrus", "token") and result.returncode == 0:
            output = f"{output[:48]}... ({len(output)} characters: an AP-REQ, base64url)"
        if output:
            console.print(escape(output), style="dim" if result.returncode == 0 else "yellow")
        return result.stdout.strip()

    def start(self, *args: str, port: int) -> None:
        log = open(self.work / f"{args[0]}-{port}.log", "wb")  # noqa: SIM115 - lives with the process
        command = (
            [str(BIN / args[0]), *args[1:]] if args[0] != "python" else [sys.executable, *args[1:]]
        )
        self.processes.append(
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{args[0]} did not start; see {log.name}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def step(title: str) -> None:
    console.print(f"\n[bold]{title}[/]")


def show_http(label: str, response: httpx.Response) -> None:
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else response.text
    )
    error = body.get("error", {}) if isinstance(body, dict) else {}
    detail = f"{error.get('name')}: {error.get('message')}" if error else json.dumps(body)
    style = "green" if response.is_success else "red"
    console.print(f"  {label} -> [{style}]HTTP {response.status_code}[/] {escape(detail)}")


@contextmanager
def impostor() -> Iterator[str]:
    """A server that answers 200 to anyone without asking for a ticket."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"principal": "alice@EXAMPLE.TEST", "groups": ["admins"]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for serve_forever to look again: every 50 ms, not every 0.5 s.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()


def story(demo: Demo) -> None:
    step("1. A realm, two users and a service (the KDC stores only Argon2id-derived keys)")
    demo.run("orthrus-kdc", "init", "--realm", REALM)
    demo.run(
        "orthrus-kdc", "addprinc", "--group", "admins", f"alice@{REALM}", stdin="alice-s3cret\n"
    )
    demo.run("orthrus-kdc", "addprinc", f"bob@{REALM}", stdin="bob-s3cret-pw\n")
    demo.run("orthrus-kdc", "addprinc", "--randkey", f"HTTP/localhost@{REALM}")
    keytab = demo.work / "http.keytab"
    demo.run("orthrus-kdc", "ktadd", "-k", str(keytab), f"HTTP/localhost@{REALM}")
    demo.start(
        "orthrus-kdc", "serve", "--port", str(demo.kdc_port), "--kerberos-port", "0",
        port=demo.kdc_port,
    )  # fmt: skip
    demo.start(
        "python", "-m", "service_demo", "--keytab", str(keytab), "--port", str(demo.service_port),
        "--principal", f"HTTP/localhost@{REALM}", "--workers", "2",
        "--db", str(demo.work / "notes.sqlite"), port=demo.service_port,
    )  # fmt: skip
    console.print(f"  KDC on :{demo.kdc_port}, service_demo (2 workers) on :{demo.service_port}")

    step("2. Log in (AS exchange): pre-authentication with an encrypted timestamp")
    demo.run("orthrus", "kinit", f"alice@{REALM}", user="alice", stdin="alice-s3cret\n")
    demo.run("orthrus", "kinit", f"bob@{REALM}", user="bob", stdin="bob-s3cret-pw\n")

    step("3. Alice calls the service: TGS for a service ticket, then AP with her authenticator")
    demo.run("orthrus", "fetch", f"{demo.service}/whoami", user="alice")

    step("4. Bob is authenticated but not in group admins")
    demo.run("orthrus", "fetch", f"{demo.service}/admin/stats", user="bob")

    step("5. No ticket: 401 with the challenge")
    response = httpx.get(f"{demo.service}/whoami")
    console.print(f"  WWW-Authenticate: {response.headers.get('WWW-Authenticate')}")
    show_http("GET /whoami without a ticket", response)

    step("6. An eavesdropper captures a request and replays it")
    token = demo.run("orthrus", "token", f"HTTP/localhost@{REALM}", user="alice")
    headers = {"Authorization": f"Ticket {token}"}
    show_http("original request", httpx.get(f"{demo.service}/whoami", headers=headers))
    show_http("the same request again", httpx.get(f"{demo.service}/whoami", headers=headers))

    step("7. Someone flips one bit of the ticket's ciphertext")
    token = demo.run("orthrus", "token", f"HTTP/localhost@{REALM}", user="alice")
    show_http(
        "tampered ticket",
        httpx.get(f"{demo.service}/whoami", headers={"Authorization": f"Ticket {tamper(token)}"}),
    )

    step("8. Mutual authentication: the service proves it read the authenticator")
    demo.run("orthrus", "fetch", "--mutual", f"{demo.service}/whoami", user="alice")
    with impostor() as fake:
        console.print("  an impostor that answers without asking for a ticket:")
        demo.run("orthrus", "fetch", "--mutual", f"{fake}/whoami", user="alice")

    step("9. Alice's credential cache")
    demo.run("orthrus", "klist", user="alice")


def tamper(token: str) -> str:
    """Flip one bit inside the ticket's encrypted part and re-encode the token."""
    from orthrus.b64 import b64u_decode, b64u_encode

    message = json.loads(b64u_decode(token))
    parts = message["ticket"]["enc_part"].split(".")
    ciphertext = bytearray(b64u_decode(parts[3]))
    ciphertext[len(ciphertext) // 2] ^= 0x01
    parts[3] = b64u_encode(bytes(ciphertext))
    message["ticket"]["enc_part"] = ".".join(parts)
    return b64u_encode(json.dumps(message, separators=(",", ":")).encode())


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="orthrus-demo-") as scratch:
        demo = Demo(Path(scratch))
        try:
            story(demo)
        finally:
            demo.stop()
    console.print(
        f"\n[bold green]Demo done in {time.monotonic() - started:.1f} s[/]; every process "
        "stopped and the realm removed."
    )


if __name__ == "__main__":
    main()
