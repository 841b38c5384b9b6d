"""Per-client-address limit on state-changing requests, counted in the shared store.

This is the coarse outer fence (floods, password spraying from one address); the per-account
counters in web/auth/throttle.py are what stop guessing. The limit is loose so that an office
behind one address can still sign in at nine o'clock: a sign-in is about 2 to 8 posts.
"""

from __future__ import annotations

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig

POSTS_PER_ADDRESS_PER_MINUTE = 600
SHARED_STORE_NAME = "shared"  # registered in create_app: memory, or Redis for several instances


async def _counts(request: Request) -> bool:
    # async on purpose: Litestar runs a plain function here in a worker thread, on every request.
    return request.method == "POST"


def per_address_limit(limit_per_minute: int = POSTS_PER_ADDRESS_PER_MINUTE) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", limit_per_minute),
        check_throttle_handler=_counts,
        store=SHARED_STORE_NAME,
        exclude=["^/static/", "^/healthz$"],  # anchored: Litestar searches anywhere in the path
    )
