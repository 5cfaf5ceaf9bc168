"""``Client.keep_fresh`` and ``AsyncClient.keep_fresh`` over simulated days.

The KDC is the protocol core's (an in-memory realm answering at the test's clock) and the
waits between refreshes advance that clock instead of sleeping, so a week of refreshes runs
in milliseconds and no assertion depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from core.core_realm import T0, CoreRealm, wire

from client_lib import AsyncClient, Client, FreshOptions, KDCUnreachable, LoginOptions
from client_lib.ccache import CredentialCache
from client_lib.config import ClientSettings
from orthrus.as_exchange import handle_as_req
from orthrus.b64 import b64u_encode
from orthrus.errors import ConfigError
from orthrus.keytab import Keytab, KeytabEntry
from orthrus.principal import Principal, krbtgt
from orthrus.tgs_exchange import handle_tgs_req
from orthrus_io.files import write_private

HOUR = 3600
#: One-hour tickets renewable for three hours, refreshed with a quarter of their life left.
RENEWABLE = FreshOptions(LoginOptions(lifetime=HOUR, renewable_life=3 * HOUR))
NOT_RENEWABLE = FreshOptions(LoginOptions(lifetime=HOUR, renewable_life=None))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class SimulatedKDC:
    """The realm's AS and TGS at the clock's time, carried as a KDC transport carries them
    (both messages through the codec); ``down`` makes it unreachable."""

    def __init__(self, core: CoreRealm, clock: Clock) -> None:
        self.core, self.clock, self.down = core, clock, False
        self.paths: list[str] = []

    def exchange(
        self, path: str, message: Any, reply_type: type[Any], url: str | None = None
    ) -> Any:
        if self.down:
            raise KDCUnreachable("cannot reach the simulated KDC")
        self.paths.append(path)
        handler: Callable[..., Any] = {"/v1/as": handle_as_req, "/v1/tgs": handle_tgs_req}[path]
        reply = handler(wire(message, type(message)), self.core.ctx, self.clock.now)
        return wire(reply, reply_type)


class AsyncSimulatedKDC(SimulatedKDC):
    async def exchange(  # type: ignore[override]
        self, path: str, message: Any, reply_type: type[Any], url: str | None = None
    ) -> Any:
        return super().exchange(path, message, reply_type, url)


class SimulatedClient(Client):
    kdc: SimulatedKDC

    @property
    def transport(self) -> Any:
        return self.kdc


class AsyncSimulatedClient(AsyncClient):
    kdc: AsyncSimulatedKDC

    @property
    def transport(self) -> Any:
        return self.kdc


class Waits:
    """A stop that never waits: each timeout asked for moves the clock on. It checks that the
    TGT in the cache outlives every wait, runs ``hooks[n]`` before the n-th wait returns,
    and stops at the ``limit``-th."""

    def __init__(self, world: World, limit: int, hooks: dict[int, Callable[[], None]]) -> None:
        self.world, self.limit, self.hooks = world, limit, hooks
        self.timeouts: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.timeouts.append(timeout)
        if len(self.timeouts) > 1 and not self.world.kdc.down:
            tgt = self.world.cached_tgt()
            assert self.world.clock.now + timeout < tgt.endtime, "the TGT would expire"
        self.hooks.get(len(self.timeouts), lambda: None)()
        if len(self.timeouts) == self.limit:
            return True
        self.world.clock.now += timeout
        return False


class World:
    """A realm with batch/host in a keytab, a clock, and a client whose KDC is simulated."""

    def __init__(self, tmp_path: Path) -> None:
        self.core = CoreRealm()
        self.principal = self.core.add_service("batch/host")
        entry = self.core.entries[self.principal]
        keys = [KeytabEntry(self.principal, v, k.material) for v, k in entry.keys.items()]
        self.keytab = tmp_path / "batch.keytab"
        write_private(
            self.keytab, Keytab(entries=keys, kdc_jwks=self.core.signer.jwks()).to_bytes()
        )
        self.clock = Clock()
        self.kdc = SimulatedKDC(self.core, self.clock)
        self.settings = ClientSettings(ccache=str(tmp_path / "ccache"))
        self.client = SimulatedClient(self.settings, clock=self.clock)
        self.client.kdc = self.kdc

    def cached_tgt(self) -> Any:
        tgt = CredentialCache(self.settings.ccache_path).find(krbtgt(self.principal.realm))
        assert tgt is not None
        return tgt

    def keep(
        self, options: FreshOptions, limit: int, hooks: dict[int, Callable[[], None]] | None = None
    ) -> list[float]:
        waits = Waits(self, limit, hooks or {})
        self.client.keep_fresh(
            keytab=self.keytab, principal=self.principal, options=options, stop=waits
        )
        return waits.timeouts


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def refreshes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        "renewed" if "renewed" in r.message else "keytab" if "keytab" in r.message else "failed"
        for r in caplog.records
        if r.name == "client_lib.fresh"
    ]


def test_keep_fresh_logs_in_then_renews_then_logs_in_again_when_renewal_runs_out(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """No cache: a login from the keytab at once; then renewals while the renewable life
    (3 h) outlasts the refresh margin; then a login again. Never an expired TGT between."""
    caplog.set_level(logging.INFO, "client_lib.fresh")
    timeouts = world.keep(RENEWABLE, limit=8)
    assert timeouts[0] == 0
    assert all(t > 0 for t in timeouts[1:])
    renewals = ["renewed"] * 3  # the third ends at renew_till, 3 h after the login
    assert refreshes(caplog) == ["keytab", *renewals, "keytab", *renewals[:2]]
    assert world.kdc.paths[:2] == ["/v1/as", "/v1/tgs"]
    assert world.cached_tgt().is_valid(world.clock.now)
    assert world.clock.now > T0 + 3 * HOUR


def test_keep_fresh_refreshes_when_a_quarter_of_the_lifetime_is_left(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "client_lib.fresh")
    timeouts = world.keep(NOT_RENEWABLE, limit=4)
    assert timeouts == [0, 0.75 * HOUR, 0.75 * HOUR, 0.75 * HOUR]
    assert refreshes(caplog) == ["keytab"] * 3
    assert world.kdc.paths == ["/v1/as"] * 3
    message = caplog.records[0].message
    assert f"TGT for {world.principal} acquired from the keytab" in message
    assert "next refresh at 2025-06-15T15:51:40Z" in message


def test_keep_fresh_started_with_a_fresh_ticket_in_the_cache_waits_for_it(world: World) -> None:
    """A restarted keeper does not ask the KDC while the cached TGT has time left."""
    world.keep(NOT_RENEWABLE, limit=2)
    world.clock.now += 600
    timeouts = world.keep(NOT_RENEWABLE, limit=1)
    assert timeouts == [0.75 * HOUR - 600]


def test_keep_fresh_replaces_another_principals_cache(world: World) -> None:
    other = world.core.add_user("alice", "alice-pass")
    alice_tgt = world.core.login(other, world.core.user_key(other, "alice-pass"), T0)
    CredentialCache(world.settings.ccache_path).initialize(other, alice_tgt)
    timeouts = world.keep(NOT_RENEWABLE, limit=2)
    assert timeouts[0] == 0
    assert CredentialCache(world.settings.ccache_path).principal() == world.principal


def test_keep_fresh_first_failure_is_raised(world: World, tmp_path: Path) -> None:
    """A wrong keytab or an unreachable KDC is said at once, not retried for ever."""
    empty = tmp_path / "empty.keytab"
    write_private(empty, Keytab(entries=[], kdc_jwks=world.core.signer.jwks()).to_bytes())
    with pytest.raises(ConfigError, match=r"holds no key for batch/host@EX\.TEST"):
        world.client.keep_fresh(keytab=empty, principal=world.principal, stop=Waits(world, 3, {}))
    world.kdc.down = True
    with pytest.raises(KDCUnreachable):
        world.keep(NOT_RENEWABLE, limit=3)
    assert not world.settings.ccache_path.exists()


def test_keep_fresh_later_failure_is_logged_and_retried_with_the_keytab(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The KDC goes down for two attempts: each failure is logged with the next attempt's
    time, retried after ``retry_after``, and the first refresh after it logs in from the
    keytab (the failure may have been the renewal's). No key reaches the log."""
    caplog.set_level(logging.INFO, "client_lib.fresh")

    def down(flag: bool) -> Callable[[], None]:
        return lambda: setattr(world.kdc, "down", flag)

    timeouts = world.keep(RENEWABLE, limit=6, hooks={2: down(True), 4: down(False)})
    assert timeouts[2:4] == [60.0, 60.0]
    assert refreshes(caplog) == ["keytab", "failed", "failed", "keytab", "renewed"]
    warning = caplog.records[1]
    assert warning.levelno == logging.WARNING
    assert "could not refresh the TGT for batch/host@EX.TEST (cannot reach" in warning.message
    assert "next attempt at 2025-06-15T15:52:40Z (the TGT ends at" in warning.message
    secrets = {b64u_encode(world.cached_tgt().session_key.material)}
    secrets |= {b64u_encode(k.material) for k in world.core.entries[world.principal].keys.values()}
    assert not any(s in caplog.text for s in secrets)


def test_async_keep_fresh_refreshes_until_cancelled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The coroutine form: the same schedule, awaited sleeps, stopped by cancellation."""
    caplog.set_level(logging.INFO, "client_lib.fresh")
    world = World(tmp_path)
    client = AsyncSimulatedClient(world.settings, clock=world.clock)
    client.kdc = AsyncSimulatedKDC(world.core, world.clock)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 5:
            raise asyncio.CancelledError
        world.clock.now += seconds

    async def main() -> None:
        await client.keep_fresh(
            keytab=world.keytab, principal=str(world.principal), options=RENEWABLE, sleep=sleep
        )

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
    assert sleeps[0] == 0 and all(s > 0 for s in sleeps[1:])
    assert refreshes(caplog)[:2] == ["keytab", "renewed"]
    assert world.cached_tgt().is_valid(world.clock.now)


@pytest.mark.parametrize("field", [{"refresh_left": 0}, {"refresh_left": 1}, {"retry_after": 0}])
def test_fresh_options_out_of_range_are_refused(field: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="must be"):
        FreshOptions(**field)  # type: ignore[arg-type]


def test_keep_fresh_names_principals_in_the_default_realm(world: World) -> None:
    settings = ClientSettings(ccache=world.settings.ccache, realm="EX.TEST")
    client = SimulatedClient(settings, clock=world.clock)
    client.kdc = world.kdc
    client.keep_fresh(keytab=world.keytab, principal="batch/host", stop=Waits(world, 2, {}))
    assert CredentialCache(settings.ccache_path).principal() == Principal.parse(
        "batch/host@EX.TEST"
    )
