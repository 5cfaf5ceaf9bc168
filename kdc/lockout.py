"""Account lockout: after N failed pre-authentications within a window, a principal is
locked for a period (MIT's ``max_failure``, ``failure_count_interval``, ``lockout_duration``).

Two implementations of :class:`orthrus.realm.PreauthGuard`: in-process (one KDC process)
and Redis (every KDC process and host shares the counters; ``ORTHRUS_REDIS_URL``). Both
reserve an attempt before the password is checked, atomically, so at most N guesses are
checked per window however many arrive at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import redis

from orthrus.principal import Principal
from orthrus_io.errors import Unavailable

__all__ = ["LockoutPolicy", "MemoryLockout", "RedisLockout"]


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """``attempts`` failures within ``window`` seconds lock for ``duration`` seconds."""

    attempts: int = 5
    window: int = 600
    duration: int = 900


class MemoryLockout:
    """Counters in this process only.

    Counters whose window and lock are over are pruned once there are ``prune_at`` of them:
    with ``hide_unknown_principals`` names nobody has are counted too (kdc.enumeration), and
    a client choosing fresh names must not grow this process's memory without end.
    """

    def __init__(self, policy: LockoutPolicy, prune_at: int = 10_000) -> None:
        self._policy = policy
        self._attempts: dict[Principal, tuple[int, float]] = {}
        self._locked_until: dict[Principal, float] = {}
        self._lock = threading.Lock()
        self._prune_at = self._initial_prune_at = prune_at

    def _prune(self, now: float) -> None:
        window = self._policy.window
        self._attempts = {p: v for p, v in self._attempts.items() if now - v[1] <= window}
        self._locked_until = {p: t for p, t in self._locked_until.items() if t > now}
        self._prune_at = max(self._initial_prune_at, 2 * len(self._attempts))

    def admit(self, principal: Principal, now: float) -> bool:
        with self._lock:
            if len(self._attempts) >= self._prune_at:
                self._prune(now)
            if self._locked_until.get(principal, 0.0) > now:
                return False
            count, started = self._attempts.get(principal, (0, now))
            if now - started > self._policy.window:
                count, started = 0, now
            count += 1
            self._attempts[principal] = (count, started)
            if count > self._policy.attempts:
                self._locked_until[principal] = now + self._policy.duration
                return False
            return True

    def failed(self, principal: Principal, now: float) -> None:
        with self._lock:
            count, _ = self._attempts.get(principal, (0, now))
            if count >= self._policy.attempts:
                self._locked_until[principal] = now + self._policy.duration

    def succeeded(self, principal: Principal) -> None:
        with self._lock:
            self._attempts.pop(principal, None)

    def unlock(self, principal: Principal) -> None:
        with self._lock:
            self._attempts.pop(principal, None)
            self._locked_until.pop(principal, None)


# KEYS: attempts, locked. ARGV: limit, window, duration. 1 = admitted, 0 = locked.
_ADMIT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  return 0
end
return 1
"""
_FAILED = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then redis.call('SET', KEYS[2], '1', 'EX', ARGV[3]) end
return n
"""


class RedisLockout:
    """Counters in Redis, shared by every KDC process; Lua scripts keep each step atomic.

    Redis unreachable: :class:`~orthrus_io.errors.Unavailable` (the KDC answers 503): a
    login is never allowed without its attempt being counted.
    """

    def __init__(self, client: redis.Redis, policy: LockoutPolicy, prefix: str) -> None:
        self._redis = client
        self._policy = policy
        self._prefix = prefix
        self._admit = client.register_script(_ADMIT)
        self._failed = client.register_script(_FAILED)

    def _keys(self, principal: Principal) -> list[str]:
        return [f"{self._prefix}:attempts:{principal}", f"{self._prefix}:locked:{principal}"]

    def _run(self, script: redis.commands.core.Script, principal: Principal) -> int:
        policy = self._policy
        try:
            result = script(
                keys=self._keys(principal),
                args=[policy.attempts, policy.window, policy.duration],
            )
        except redis.RedisError as exc:
            raise Unavailable(f"Redis is unavailable for lockout counters: {exc}") from None
        return int(result)

    def admit(self, principal: Principal, now: float) -> bool:
        return self._run(self._admit, principal) == 1

    def failed(self, principal: Principal, now: float) -> None:
        self._run(self._failed, principal)

    def succeeded(self, principal: Principal) -> None:
        self.unlock(principal, attempts_only=True)

    def unlock(self, principal: Principal, attempts_only: bool = False) -> None:
        keys = self._keys(principal)
        try:
            self._redis.delete(*(keys[:1] if attempts_only else keys))
        except redis.RedisError as exc:
            raise Unavailable(f"Redis is unavailable for lockout counters: {exc}") from None
