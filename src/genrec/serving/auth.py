"""Write access: which requests may change the server's state, and where a server may listen.

Reads are open. Writes (events, item upserts and deletions) need the server's API key, sent as
``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` and compared in constant time; a missing or wrong key
is a 401. A server without a key accepts writes only when it listens on a loopback address, so nobody
on the network can write to it: `check_bind` refuses any other address.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header, HTTPException

from genrec.errors import ConfigError

#: Environment variable read when no ``--api-key`` is given.
API_KEY_ENV = "GENREC_API_KEY"


def configured_api_key(api_key: str | None) -> str | None:
    """The explicit key, else ``$GENREC_API_KEY``; an empty value means no key."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    return key or None


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to serve writes without a key on anything but loopback."""
    if api_key is None and not is_loopback(host):
        raise ConfigError(
            f"--host {host}: writes (events, item changes) would be open to the network; "
            f"set --api-key or ${API_KEY_ENV}, or bind to 127.0.0.1"
        )


def require_write_key(api_key: str | None) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that answers 401 unless the request carries ``api_key`` (None: no check)."""
    expected = None if api_key is None else api_key.encode()

    async def check(
        authorization: Annotated[str | None, Header(max_length=1000)] = None,
        x_api_key: Annotated[str | None, Header(max_length=1000)] = None,
    ) -> None:
        if expected is None:
            return
        presented = x_api_key
        if presented is None and authorization is not None:
            scheme, _, token = authorization.partition(" ")
            presented = token.strip() if scheme.lower() == "bearer" else None
        if presented is None or not hmac.compare_digest(presented.encode(), expected):
            reason = "missing" if presented is None else "wrong"
            raise HTTPException(
                401,
                detail=f"{reason} API key: writes need 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check
