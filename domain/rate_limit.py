"""How fast we may send: per-endpoint rate limits and the retry backoff of failed sends.

Pure, with the clock passed in (seconds on any monotonic scale), so tests freeze it.

WeCom and DingTalk group robots each accept at most 20 messages a minute and reject the rest
(WeCom errcode 45009, DingTalk 130101). A classic token bucket that starts full and refills N a
minute lets up to 2N through in the first minute, so the limiter here is a token bucket whose
tokens come back exactly 60 s after they were spent: at most N sends in any 60-second window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import timedelta

WINDOW_SECONDS = 60.0


class TokenBucket:
    """At most `rate_per_minute` takes in any window of 60 seconds."""

    def __init__(self, rate_per_minute: int, taken: Iterable[float] = ()) -> None:
        """`taken`: when earlier sends happened (same clock), e.g. other workers' in the last minute."""
        if rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        self.rate_per_minute = rate_per_minute
        self._spent: deque[float] = deque(sorted(taken))   # when each token in use was taken

    def _refill(self, now: float) -> None:
        while self._spent and self._spent[0] + WINDOW_SECONDS <= now:
            self._spent.popleft()

    def wait_time(self, now: float) -> float:
        """Seconds until a token is free (0 when one is free now)."""
        self._refill(now)
        if len(self._spent) < self.rate_per_minute:
            return 0.0
        return self._spent[0] + WINDOW_SECONDS - now

    def try_take(self, now: float) -> bool:
        """Take a token if one is free now."""
        if self.wait_time(now) > 0:
            return False
        self._spent.append(now)
        return True


def retry_delay(attempts: int, *, base: timedelta = timedelta(seconds=30),
                cap: timedelta = timedelta(minutes=30)) -> timedelta:
    """Backoff before the next try after `attempts` failed ones: 30 s, 1 min, 2 min ... capped.

    Deterministic (no jitter): the dispatcher sends rows in small batches, so retries of many
    rows do not arrive in one burst anyway, and a fixed schedule is easy to explain.
    """
    if attempts < 1:
        return timedelta(0)
    delay: timedelta = base * (2 ** min(attempts - 1, 20))
    return min(cap, delay)


MAX_ATTEMPTS = 6
