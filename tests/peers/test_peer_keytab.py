"""MIT keytabs both ways: what MIT's ``ktutil`` writes Orthrus reads, key for key; what Orthrus
writes MIT's ``klist -k`` lists and ``ktutil`` reads, key for key. And the harness itself:
MIT's programs see only the throwaway configuration and files it gives them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from mit_peer import KDCAddress, MITPeer
from support import free_port

from orthrus.enctypes import KeyBlock, enctype
from orthrus.mitkeytab import MITKeytabEntry, parse_keytab, serialize_keytab
from orthrus.principal import Principal

HTTP = Principal.parse("HTTP/localhost@EXAMPLE.TEST")
ALICE = Principal.parse("alice@EXAMPLE.TEST")
WHEN = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def orthrus_keytab(path: Path) -> list[MITKeytabEntry]:
    entries = [
        MITKeytabEntry(HTTP, 3, KeyBlock(20, bytes(range(32))), WHEN),
        MITKeytabEntry(HTTP, 3, KeyBlock(18, bytes(range(32, 64))), WHEN),
        MITKeytabEntry(ALICE, 300, KeyBlock(17, bytes(range(16))), WHEN),
    ]
    path.write_bytes(serialize_keytab(entries))
    path.chmod(0o600)
    return entries


def test_orthrus_reads_what_ktutil_writes(mit: MITPeer) -> None:
    script = (
        f"addent -password -p {HTTP} -k 3 -e aes256-cts-hmac-sha1-96\n"
        "http-keytab-pass\n"
        f"wkt {mit.keytab}\n"
        "quit\n"
    )
    mit.ok("ktutil", input=script)
    (entry,) = parse_keytab(mit.keytab.read_bytes())
    assert (entry.principal, entry.kvno, entry.enctype) == (HTTP, 3, 18)
    # RFC 3962 §4: PBKDF2-HMAC-SHA1 over the salt REALM + name components, 4096 iterations.
    expected = enctype(18).string_to_key("http-keytab-pass", b"EXAMPLE.TESTHTTPlocalhost")
    assert entry.key == expected


def test_mit_klist_lists_what_orthrus_writes(mit: MITPeer) -> None:
    entries = orthrus_keytab(mit.keytab)
    out = mit.ok("klist", "-k", "-t", "-e", "-K", str(mit.keytab))
    stamp = datetime.fromtimestamp(WHEN, UTC).strftime("%m/%d/%y %H:%M:%S")
    lines = [re.sub(r"\s+", " ", line).strip() for line in out.splitlines()[3:]]
    assert lines == [
        f"{e.kvno} {stamp} {e.principal} ({enctype(e.enctype).name}) (0x{e.key.material.hex()})"
        for e in entries
    ]


def test_mit_ktutil_reads_what_orthrus_writes_and_writes_it_back(mit: MITPeer) -> None:
    entries = orthrus_keytab(mit.keytab)
    copy = mit.directory / "copy.keytab"
    out = mit.ok("ktutil", input=f"rkt {mit.keytab}\nlist -e -k\nwkt {copy}\nquit\n")
    listed = re.findall(r"^\s*\d+\s+(\d+)\s+(\S+) \((\S+)\)\s+\(0x([0-9a-f]+)\)", out, re.M)
    assert listed == [
        (str(e.kvno), str(e.principal), enctype(e.enctype).name, e.key.material.hex())
        for e in entries
    ]
    # ktutil's wkt stamps the entries with the time it writes them.
    copied = parse_keytab(copy.read_bytes())
    assert [replace(e, timestamp=WHEN) for e in copied] == entries


def test_the_harness_gives_mit_only_its_own_files(
    mit: MITPeer, make_mit: Callable[..., MITPeer]
) -> None:
    result = mit.run("klist")
    assert result.rc == 1
    assert f"No credentials cache found (filename: {mit.ccache})" in result.stderr
    # The realm's KDC is the configured address, never DNS: nothing listens there.
    port = free_port()
    nowhere = make_mit(KDCAddress(port, tcp_only=True), ["aes256-cts-hmac-sha1-96"])
    assert f"kdc = 127.0.0.1:{port}" in nowhere.config.read_text()
    assert "udp_preference_limit = 1\n" in nowhere.config.read_text()
    result = nowhere.run("kinit", "alice", input="any password\n")
    assert result.rc == 1
    assert "Cannot contact any KDC for realm 'EXAMPLE.TEST'" in result.stderr
    assert f"127.0.0.1:{port}" in nowhere.trace.read_text()
