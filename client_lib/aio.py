"""The client library for asyncio: the same exchanges and checks as :class:`Client`, with the
KDC's messages over an ``httpx.AsyncClient`` so that waiting for the KDC never blocks the
event loop.

>>> async with AsyncClient.from_environment() as client:
...     ticket = await client.get_service_ticket(Principal.parse("HTTP/www@EXAMPLE.TEST"))
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from client_lib.api import ClientBase
from client_lib.config import ClientSettings
from client_lib.options import FreshOptions, LoginOptions
from client_lib.transport import AsyncExchanger, AsyncKDCTransport, drive_async
from orthrus.credentials import Credential
from orthrus.errors import OrthrusError
from orthrus.keys import Entropy
from orthrus.kpasswd import KpasswdResult
from orthrus.principal import Principal

__all__ = ["AsyncClient"]

_DEFAULT_LOGIN = LoginOptions()
_DEFAULT_FRESH = FreshOptions()


class AsyncClient(ClientBase):
    """An Orthrus client whose KDC exchanges are awaited (RFC 4120 §3.1, §3.3)."""

    def __init__(
        self,
        settings: ClientSettings,
        clock: Callable[[], float] = time.time,
        entropy: Entropy = os.urandom,
    ) -> None:
        super().__init__(settings, clock, entropy)
        self._transport: AsyncExchanger | None = None
        self._locks: dict[Principal, asyncio.Lock] = {}

    @classmethod
    def sharing(cls, client: ClientBase) -> AsyncClient:
        """An async client with ``client``'s settings, cache, clock and entropy."""
        return cls(client.settings, client.now, client.entropy)

    @property
    def transport(self) -> AsyncExchanger:
        if self._transport is None:
            url = self.settings.kdc_url
            if self.kerberos is not None:
                from client_lib.kerberos_transport import AsyncKerberosTransport

                self._transport = AsyncKerberosTransport(url, self.settings.timeout)
            else:
                http = self.settings.async_http_client(url, "the KDC URL")
                self._transport = AsyncKDCTransport(url, http)
        return self._transport

    async def aclose(self) -> None:
        """Close the connection to the KDC; a later call opens a new one (in its own loop)."""
        if self._transport is not None:
            transport, self._transport = self._transport, None
            await transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def login(
        self, principal: Principal, password: str, options: LoginOptions = _DEFAULT_LOGIN
    ) -> Credential:
        """Log in with a password and store the TGT in the credential cache."""
        return await drive_async(self._login_flow(principal, password, options), self.transport)

    async def initial_ticket(
        self,
        principal: Principal,
        password: str,
        options: LoginOptions = _DEFAULT_LOGIN,
        server: Principal | None = None,
    ) -> Credential:
        """An AS exchange with a password, for a TGT or ``server``; returned, not stored."""
        flow = self._initial_ticket_flow(principal, password, options, server)
        return await drive_async(flow, self.transport)

    async def login_with_keytab(
        self, principal: Principal, keytab_path: Path, options: LoginOptions = _DEFAULT_LOGIN
    ) -> Credential:
        """Log in with the newest key of ``principal`` in a keytab (one round trip)."""
        flow = self._keytab_login_flow(principal, keytab_path, options)
        return await drive_async(flow, self.transport)

    async def change_password(
        self, principal: Principal, old_password: str, new_password: str
    ) -> KpasswdResult:
        """Change ``principal``'s password through ``/v1/kpasswd`` (RFC 3244)."""
        flow = self._change_password_flow(principal, old_password, new_password)
        return await drive_async(flow, self.transport)

    async def get_service_ticket(self, server: Principal, use_cache: bool = True) -> Credential:
        """A ticket for ``server``: from the cache if still good, else from the TGS.

        Concurrent callers asking for the same server wait for one TGS exchange (then find
        its ticket in the cache) instead of each asking the KDC and rewriting the cache.
        """
        lock = self._locks.setdefault(server, asyncio.Lock())
        async with lock:
            return await drive_async(self._service_ticket_flow(server, use_cache), self.transport)

    async def renew(self) -> Credential:
        """Renew the cached TGT (``kinit -R``) before its end, within its renewable life."""
        return await drive_async(self._renew_flow(), self.transport)

    async def keep_fresh(
        self,
        *,
        keytab: Path | str,
        principal: Principal | str,
        options: FreshOptions = _DEFAULT_FRESH,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """:meth:`Client.keep_fresh <client_lib.Client.keep_fresh>` as a coroutine that runs
        until cancelled: ``task = asyncio.create_task(client.keep_fresh(...))``, then
        ``task.cancel()``. ``sleep`` waits between refreshes."""
        schedule = self._fresh_schedule(principal, options)
        while True:
            await sleep(schedule.delay(self.now()))
            try:
                flow = self._refresh_flow(schedule, Path(keytab))
                tgt = await drive_async(flow, self.transport)
            except OrthrusError as exc:
                schedule.failed(exc, self.now())
            else:
                schedule.succeeded(tgt, self.now())
