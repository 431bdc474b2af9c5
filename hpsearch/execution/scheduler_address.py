"""A scheduler address, checked before a ``distributed.Client`` is made of it: that it parses,
and that a Dask scheduler answers there within the study's timeout."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf

from hpsearch.exceptions import first_line

__all__ = ["answering", "checked_address"]


def checked_address(address: str) -> str:
    """``address`` if distributed can parse it; refused before a client is made of it.

    A client made of an address it cannot parse fails in the middle of its construction and
    leaves a half-made object whose finaliser, at interpreter exit, waits 10 s and prints a
    traceback ("Exception ignored in Client.__del__").

    Raises:
        ValueError: Not an address like ``tcp://HOST:PORT``.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        protocol, location = parse_address(address)
        if protocol in ("tcp", "tls"):
            _, port = parse_host_port(location)
            if not 0 < int(port) < 65536:
                raise ValueError(f"expected a port in 1..65535, but got {location!r}")
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"scheduler {address!r} is not an address like tcp://HOST:8786: {first_line(exc)}"
        ) from None
    return address


def answering(address: str, timeout: float) -> None:
    """Returns once a Dask peer at ``address`` has answered distributed's handshake; raises
    :class:`TimeoutError` after ``timeout`` seconds otherwise.

    distributed bounds the TCP connection by its timeout but not the handshake read after it,
    so a client of an address where something else listens (the dashboard's port 8787, printed
    just under the scheduler's own; a web server) waited for ever. Asked in a thread of its own,
    since the caller may be inside an event loop (a notebook).
    """
    from distributed.comm import connect as comm_connect

    async def handshake() -> None:
        comm = await comm_connect(address, timeout=timeout)
        await comm.close()

    def probe() -> None:
        asyncio.run(asyncio.wait_for(handshake(), timeout))

    with cf.ThreadPoolExecutor(1) as pool:
        try:
            pool.submit(probe).result()
        except asyncio.TimeoutError:
            raise TimeoutError(f"no Dask scheduler answered within {timeout:g} s") from None
