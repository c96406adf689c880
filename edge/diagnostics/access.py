"""Who may see the page: sessions that expire, and a limit on login attempts.

Pure bookkeeping on a monotonic clock passed in (`now`), no I/O: the server asks and acts.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Final

MAX_SESSIONS: Final = 16  # one more logs out the oldest
WINDOW_S: Final = 60.0
GLOBAL_FACTOR: Final = 4  # all addresses together may try this many times one address's share


@dataclass
class Session:
    token: str
    csrf: str
    expires: float  # monotonic


class Sessions:
    """Sessions by their cookie token; each ends `ttl_s` after login, whatever happens."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._by_token: dict[str, Session] = {}

    def open(self, now: float) -> Session:
        self._drop_expired(now)
        while len(self._by_token) >= MAX_SESSIONS:
            oldest = min(self._by_token.values(), key=lambda s: s.expires)
            del self._by_token[oldest.token]
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + self._ttl_s)
        self._by_token[session.token] = session
        return session

    def find(self, token: str | None, now: float) -> Session | None:
        """The live session of `token`; None for a missing, unknown or expired one."""
        if not token:
            return None
        session = self._by_token.get(token)
        if session is None:
            return None
        if session.expires <= now:
            del self._by_token[token]
            return None
        return session

    def close(self, token: str) -> None:
        self._by_token.pop(token, None)

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, s in self._by_token.items() if s.expires <= now]:
            del self._by_token[token]


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)

    def count(self, now: float) -> int:
        while self.times and self.times[0] <= now - WINDOW_S:
            self.times.popleft()
        return len(self.times)


class LoginLimiter:
    """At most `per_minute` login attempts a minute from one address, and GLOBAL_FACTOR times
    that from all of them together (through a tunnel every address is the box's own)."""

    def __init__(self, per_minute: int) -> None:
        self._per_address = per_minute
        self._overall = per_minute * GLOBAL_FACTOR
        self._by_address: dict[str, _Window] = {}
        self._all = _Window()

    def attempt(self, address: str, now: float) -> float | None:
        """Counts one attempt; None when allowed, else the seconds until one would be."""
        window = self._by_address.setdefault(address, _Window())
        for seen, limit in ((window, self._per_address), (self._all, self._overall)):
            if seen.count(now) >= limit:
                return max(1.0, seen.times[0] + WINDOW_S - now)
        window.times.append(now)
        self._all.times.append(now)
        self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for address in [a for a, w in self._by_address.items() if w.count(now) == 0]:
            del self._by_address[address]
