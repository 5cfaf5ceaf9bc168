"""The sequence-diagram page in a real browser: playwright driving Debian's chromium.

Skipped, saying why, only when chromium cannot be had (``make browser`` installs it as root;
playwright's own browser download is never used). A screenshot is taken and checked: the
diagram is there, with green accepted replies and a red refusal.
"""

from __future__ import annotations

import base64
import os
import shutil
import struct
from pathlib import Path

import pytest
from lab_support import Student, kdc_admin, lab_cli, last
from lab_support import events as lab_events

from labs import attacks
from labs.explain import FORGED
from labs.lab import Lab
from labs.procs import read_proc
from labs.viewers import KRBTGT_KEYTAB
from labs.web import MAX_SAFE_INTEGER, create_app, json_safe
from orthrus.principal import Principal

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RED = "rgb(198, 40, 40)"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (make install)"
)
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed and could not be (make browser runs "
        "apt-get install -y chromium as root)",
        allow_module_level=True,
    )


#: Counts the pixels of a PNG (a data: URL) by colour, in the browser (a canvas is fast).
COUNT_PIXELS = """async (url) => {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  let red = 0, green = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (r > 150 && g < 80 && b < 80) red++;
    if (g > 100 && r < 80 && b < 110) green++;
  }
  return {width: image.width, height: image.height, red, green};
}"""


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_page_draws_each_exchange_live_and_decodes_on_click(
    lab: Lab, alice: Student, tmp_path: Path
) -> None:
    alice.kinit()
    assert alice.fetch("notes").status_code == 200
    accepted = last(lab, component="notes", ok=True)
    assert alice.fetch("notes", offset=600).status_code == 401
    refused = last(lab, component="notes", error="KRB_AP_ERR_SKEW")
    started = lab_cli(lab, "web")
    assert started.exit_code == 0, started.output
    info = read_proc(lab.paths, "web")
    assert info is not None and info.url in started.stdout
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{info.url}/")
            page.select_option("#viewer", "alice")
            page.wait_for_selector(f".event[data-id='{refused.id}']", timeout=15_000)
            lanes = page.inner_text("#lanes")
            assert "KDC" in lanes and "notes" in lanes and "alice" in lanes

            # The refusal is red, and its details explain it.
            reply = page.locator(f".event[data-id='{refused.id}'] .arrow.reply")
            assert "refused" in (reply.get_attribute("class") or "")
            color = reply.locator("text").evaluate("e => getComputedStyle(e).fill")
            assert color == RED
            reply.click()
            details = page.locator(f"#details-{refused.id}")
            assert details.is_visible()
            assert "KRB_AP_ERR_SKEW" in details.inner_text()
            assert "too far from the server's clock" in details.inner_text()

            # Decoded as alice: her authenticator, in clear; the ticket stays sealed.
            page.click(f".event[data-id='{accepted.id}'] .arrow.request")
            text = page.inner_text(f"#details-{accepted.id}")
            assert "sealed under the session key of the ticket for HTTP/notes@LAB.TEST" in text
            assert "opened with the session key from the TGS reply" in text
            assert "alice@LAB.TEST" in text and "ctime" in text
            assert "does not hold the long-term key of HTTP/notes@LAB.TEST" in text

            # Overlapping polls (the timer's and a change of viewer) never draw an event twice.
            page.evaluate("() => { restart(); restart(); return Promise.all([poll(), poll()]); }")
            page.wait_for_selector(f".event[data-id='{refused.id}']", timeout=15_000)
            drawn = page.eval_on_selector_all(".event", "rows => rows.map(r => r.dataset.id)")
            assert str(refused.id) in drawn and len(drawn) == len(set(drawn)), drawn

            # Live: a new exchange appears without reloading.
            assert alice.fetch("legacy", service="HTTP/legacy").status_code == 200
            newest = last(lab, component="legacy")
            page.wait_for_selector(f".event[data-id='{newest.id}']", timeout=10_000)

            page.click(f".event[data-id='{refused.id}'] .arrow.reply")  # close it again
            page.locator(f".event[data-id='{accepted.id}']").scroll_into_view_if_needed()
            shot = tmp_path / "lab-web.png"
            page.screenshot(path=str(shot))
            data = shot.read_bytes()
            assert png_size(data) == (1280, 900)
            blank = browser.new_page()
            url = "data:image/png;base64," + base64.b64encode(data).decode()
            counted = blank.evaluate(COUNT_PIXELS, url)
            assert (counted["width"], counted["height"]) == (1280, 900)
            assert counted["red"] > 50 and counted["green"] > 50, counted
        finally:
            browser.close()
    if os.environ.get("ORTHRUS_LAB_SCREENSHOT"):
        shutil.copy(shot, os.environ["ORTHRUS_LAB_SCREENSHOT"])


def test_nonces_reach_the_page_exactly_as_the_cli_shows_them(lab: Lab, alice: Student) -> None:
    """64-bit nonces travel as strings: a JavaScript number would round their last digits."""
    alice.kinit()
    login = last(lab, exchange="AS", ok=True)
    nonce = login.request["body"]["nonce"]
    client = create_app(lab.paths.root).test_client()
    answer = client.get("/api/events?after=0&as=alice").get_json()
    shown = next(view for view in answer["events"] if view["id"] == login.id)
    assert shown["clear"]["nonce"] == (str(nonce) if nonce > MAX_SAFE_INTEGER else nonce)
    big = 7330425392013893930
    assert json_safe({"a": [big, -big, 2**53 - 1, True]}) == {
        "a": [str(big), str(-big), 2**53 - 1, True]
    }


def test_the_page_marks_replays_and_forgeries_links_key_origins_and_filters(lab: Lab) -> None:
    """One lifeline per client (and one for whoever replays); a replay and a forged ticket
    are marked on their arrows; a key's origin is a link to its event; an opened ticket has a
    verdict on its KDC signature; the refusal of a forgery names the signature; filters."""
    alice = Student(lab, "alice")
    alice.kinit()
    assert alice.fetch("notes").status_code == 200
    accepted = last(lab, component="notes", ok=True)
    attacks.replay(lab, accepted.id)
    replayed = last(lab, component="notes")
    forged_cache = lab.paths.ccache("mallory")
    realm = lab.state.realm
    attacks.forge_ticket(
        lab,
        lab.paths.keytab("notes"),
        Principal.parse(f"HTTP/notes@{realm}"),
        Principal.parse(f"mallory@{realm}"),
        ("admins",),
        forged_cache,
    )
    assert Student(lab, "alice", ccache=forged_cache).fetch("notes").status_code == 401
    forged = last(lab, component="notes")
    assert forged.error == "KRB_AP_ERR_MODIFIED"
    tgs = next(
        e
        for e in reversed(lab_events(lab))
        if e.exchange == "TGS" and e.id < accepted.id and e.client == f"alice@{realm}"
    )
    info = read_proc(lab.paths, "web")
    if info is None:
        assert lab_cli(lab, "web").exit_code == 0
        info = read_proc(lab.paths, "web")
    assert info is not None
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{info.url}/")
            # No instructor in a local lab; the forged ticket is opened as the service it
            # was forged for, with notes' own keytab: what notes itself checks.
            page.wait_for_selector("#viewer option[value='notes']", state="attached")
            offered = page.eval_on_selector_all("#viewer option", "os => os.map(o => o.value)")
            assert "instructor" not in offered and {"alice", "legacy"} <= set(offered)
            page.select_option("#viewer", "notes")
            page.wait_for_selector(f".event[data-id='{forged.id}']", timeout=30_000)
            lanes = page.inner_text("#lanes")
            # The forger's lifeline: the client the service read in the ticket, if it did.
            forger = forged.client.split("@")[0] if forged.client else "?"
            assert "alice" in lanes and "replayer" in lanes
            assert (forger if forged.client else "unknown client") in lanes

            replay = page.locator(f".event[data-id='{replayed.id}'] .arrow.request")
            assert "replay" in (replay.get_attribute("class") or "")
            assert f"replay of #{accepted.id}" in str(replay.text_content())
            fake = page.locator(f".event[data-id='{forged.id}'] .arrow.request")
            assert "forged" in (fake.get_attribute("class") or "")
            assert "AP-REQ for HTTP/notes — forged ticket" in str(fake.text_content())

            fake.click()
            text = page.inner_text(f"#details-{forged.id}")
            assert "KDC signature on the authorization data: not the KDC's" in text
            assert FORGED.split(":")[0] in text and "signing key" in text

            page.click(f".event[data-id='{accepted.id}'] .arrow.request")
            text = page.inner_text(f"#details-{accepted.id}")
            assert "KDC signature on the authorization data: signed by the KDC" in text

            # As alice: the session key she learnt from the TGS reply, a link to that event.
            page.select_option("#viewer", "alice")
            page.wait_for_selector(f".event[data-id='{forged.id}']", timeout=30_000)
            page.wait_for_selector(f"#details-{accepted.id}.open", state="visible")  # kept open
            origin = page.locator(f"#details-{accepted.id} a.origin[data-goto='{tgs.id}']")
            assert f"the TGS reply of event #{tgs.id}" in origin.inner_text()
            origin.click()
            page.wait_for_selector(f"#details-{tgs.id}.open", state="visible")

            page.select_option("#filter-principal", forger)
            page.wait_for_selector(f".event[data-id='{accepted.id}']", state="hidden")
            visible = page.eval_on_selector_all(
                ".event:not(.hidden)", "rows => rows.map(r => r.dataset.principal)"
            )
            assert visible and set(visible) == {forger}, visible
            page.select_option("#filter-principal", "")
            page.select_option("#filter-exchange", "AS")
            shown = page.eval_on_selector_all(
                ".event:not(.hidden)", "rows => rows.map(r => r.dataset.exchange)"
            )
            assert shown and set(shown) == {"AS"}, shown
        finally:
            browser.close()


def test_a_local_lab_has_no_instructor_view_and_the_kdcs_only_once_handed_out(lab: Lab) -> None:
    """A viewer decodes with the keys it holds: the page's API refuses ``instructor`` (a class
    dashboard's view) and the KDC's view until exercise 12 hands out the krbtgt key."""
    client = create_app(lab.paths.root).test_client()
    refused = client.get("/api/events?after=0&as=instructor")
    assert refused.status_code == 403
    assert "a local lab has no instructor view" in refused.get_json()["error"]
    assert "instructor" not in [v["value"] for v in client.get("/api/status").get_json()["viewers"]]

    krbtgt = lab.paths.keytab(KRBTGT_KEYTAB)
    krbtgt.unlink(missing_ok=True)  # as before exercise 12
    before = client.get("/api/events?after=0&as=kdc")
    assert before.status_code == 403 and "exercise 12" in before.get_json()["error"]
    offered = [v["value"] for v in client.get("/api/status").get_json()["viewers"]]
    assert "kdc" not in offered and {"alice", "notes", "legacy"} <= set(offered)
    assert client.get("/api/events?after=0&as=nobody").status_code == 400

    kdc_admin(lab, "ktadd", "-k", str(krbtgt), f"krbtgt/{lab.state.realm}")  # exercise 12
    assert "kdc" in [v["value"] for v in client.get("/api/status").get_json()["viewers"]]
    alice = Student(lab, "alice")
    alice.kinit()
    login = last(lab, exchange="AS", ok=True)
    views = client.get("/api/events?after=0&as=kdc").get_json()["events"]
    tgt = next(
        p
        for v in views
        if v["id"] == login.id
        for p in v["parts"]
        if p["where"] == "reply.ticket.enc_part"
    )
    assert tgt["opened"] and tgt["fields"]["client"] == f"alice@{lab.state.realm}"
