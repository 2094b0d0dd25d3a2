"""The retry policy, as a short spec on top of tenacity.

* Transient failures retry up to ``max_retries`` times: connection errors,
  timeouts of a single attempt, dropped or truncated bodies, and HTTP
  408/429/5xx (:class:`RateLimitError`, :class:`ServerError`).
* Waits grow exponentially with full jitter (0.5 s, 1 s, 2 s... capped at
  8 s); a ``Retry-After`` header is honoured up to 30 s instead.
* A stale nonce (:class:`NonceExpiredError`) retries once, at once, after
  the client has read a fresh nonce; it does not use up ``max_retries``.
* 2.x: a cache key the stream step does not find (:class:`CacheMissError`:
  used, unknown or expired) retries once, at once, redoing both steps (a key
  is single-use: the stream is never asked again with the same one).
* Everything else fails at once: challenges, other 4xx, the site's own
  error answers, malformed replies, bad input.
* No wait runs past the ask's overall deadline: when the next wait would,
  the last error is raised instead. ``reraise=True`` so callers see our
  exceptions, never ``tenacity.RetryError``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import tenacity

from .exceptions import (
    APIConnectionError,
    APITimeoutError,
    CacheMissError,
    HTTPStatusError,
    NonceExpiredError,
    RateLimitError,
    ServerError,
    TLSError,
)

__all__ = [
    "BACKOFF_BASE", "BACKOFF_CAP", "CACHE_MISS_RETRIES", "RETRY_AFTER_CAP", "STALE_NONCE_RETRIES", "call_with_retries",
]

T = TypeVar("T")

BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 30.0
STALE_NONCE_RETRIES = 1
CACHE_MISS_RETRIES = 1
# Jitter only: no need for a freshly seeded generator per call.
_JITTER = random.Random()


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, (TLSError, APITimeoutError)):
        return False
    return isinstance(exc, (APIConnectionError, RateLimitError, ServerError))


class _Policy:
    """Per-call state: how many of each kind of retry are used."""

    def __init__(self, max_retries: int, deadline: float, clock: Callable[[], float], rng: random.Random) -> None:
        self.max_retries = max_retries
        self.deadline = deadline
        self.clock = clock
        self.rng = rng
        self.transient = 0
        self.stale = 0
        self.cache_miss = 0
        self._delay_for = -1
        self._delay = 0.0

    def should_retry(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if exc is None:
            return False
        if isinstance(exc, NonceExpiredError):
            self.stale += 1
            return self.stale <= STALE_NONCE_RETRIES
        if isinstance(exc, CacheMissError):
            self.cache_miss += 1
            return self.cache_miss <= CACHE_MISS_RETRIES
        if _transient(exc):
            self.transient += 1
            return self.transient <= self.max_retries
        return False

    def wait(self, state: tenacity.RetryCallState) -> float:
        # tenacity versions differ in whether they ask for the wait or the
        # stop first; compute the delay once per attempt so both agree.
        if self._delay_for != state.attempt_number:
            self._delay_for = state.attempt_number
            self._delay = self._compute_delay(state)
        return self._delay

    def _compute_delay(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, (NonceExpiredError, CacheMissError)):
            return 0.0
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        if retry_after is not None:
            return min(max(retry_after, 0.0), RETRY_AFTER_CAP)
        return self.rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (self.transient - 1)))

    def stop(self, state: tenacity.RetryCallState) -> bool:
        # Give up when the wait would overrun the deadline, leaving a little
        # time for the attempt itself.
        return self.clock() + self.wait(state) >= self.deadline - 0.05


def call_with_retries(
    fn: Callable[[], T],
    *,
    max_retries: int,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
) -> T:
    """Run ``fn`` under the policy above and return its result."""
    import tenacity  # imported on first use: it pulls in asyncio

    policy = _Policy(max_retries, deadline, clock, rng or _JITTER)
    retrying = tenacity.Retrying(
        retry=policy.should_retry,
        stop=policy.stop,
        wait=policy.wait,
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )
    return retrying(fn)
