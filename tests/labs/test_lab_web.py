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
from lab_support import Student, lab_cli, last

from labs.lab import Lab
from labs.procs import read_proc
from labs.web import MAX_SAFE_INTEGER, create_app, json_safe

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
            assert "KDC" in lanes and "notes" in lanes and "Client" in lanes

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
