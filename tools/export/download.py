"""Downloading an export over HTTPS without letting a URL reach into the server's own network.

An agent (or whatever text it read) chooses the URL, so before any byte is sent: only `https://`; no
credentials in the URL; the host is resolved once and **every** address it resolves to must be public
(loopback, private, link-local, carrier-grade NAT, multicast, reserved and the cloud metadata addresses
169.254.169.254 / fd00:ec2::254 are refused, also when embedded in IPv6); and the connection goes to the
vetted address (`PinnedTransport`), so a second, different DNS answer cannot redirect it — TLS still
verifies the certificate against the URL's host name. Redirects are not followed. The body is streamed
in chunks with a size cap, never buffered whole.

One origin is trusted as it is, because the user configured it: the Ango API origin (same scheme,
host and port), where an on-premise or proxied Hub serves its export links, over plain `http://` too
when that is how the Hub is configured. In sandbox mode that origin is the sandbox's own (in-process
`http://sandbox`, or its loopback port), so its signed export links pass by the same rule, and no
other port on this machine does.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpcore
import httpx

from ..untrusted import whole_number
from .sources import refuse
from .unpack import Limits, human_size

CHUNK = 1 << 20
SANDBOX_HOST = "sandbox"  # the in-process sandbox's origin (http://sandbox), served by its ASGI transport
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
_SIGNED_QUERY = re.compile(r"(signature|credential|token|sig|key)=", re.IGNORECASE)


class _RedactSignedUrls(logging.Filter):
    """httpx logs every request URL at INFO; a signed export link's query is a credential, so it is
    replaced by "[redacted]" before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, httpx.URL) for arg in record.args):
            record.args = tuple(_redacted(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args)
        return True


def _redacted(url: httpx.URL) -> httpx.URL:
    signed = _SIGNED_QUERY.search(url.query.decode("ascii", "replace"))
    return url.copy_with(query=b"[redacted]") if signed else url


_REDACT = _RedactSignedUrls()
if _REDACT not in logging.getLogger("httpx").filters:
    logging.getLogger("httpx").addFilter(_REDACT)


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver (one DNS lookup per download)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


Origin = tuple[str, str, int]  # scheme, host, port


def origin_of(url: str | httpx.URL) -> Origin | None:
    """`url`'s origin, with the scheme's default port filled in; None for a URL without a host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    if not parsed.host or parsed.scheme not in ("http", "https"):
        return None
    return parsed.scheme, parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)


@dataclass(frozen=True)
class DownloadPolicy:
    """Where export downloads may go. `trusted_origins` are the configured provider API origins whose
    links are fetched as they are; `sandbox_transport` serves http://sandbox in-process (tests, demo)."""

    trusted_origins: frozenset[Origin] = frozenset()
    sandbox_transport: httpx.AsyncBaseTransport | None = None
    resolver: Resolver = system_resolver
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0


def non_public_reason(address: IPAddress) -> str | None:
    """Why `address` must not be fetched from, or None when it is a public address."""
    if address in METADATA:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:  # fec0::/10: deprecated, yet `is_global` on Python 3.11
            return "a site-local address"
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            reason = non_public_reason(embedded)
            if reason:
                return reason
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved or address.is_unspecified),
        ("private", address.is_private),
        ("carrier-grade NAT", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
        ("non-public", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"a {name} address"
    return None


@dataclass(frozen=True)
class Vetted:
    url: httpx.URL
    host: str
    address: str | None  # the pinned address; None for a trusted origin, fetched as it is


async def vet_url(raw: str, policy: DownloadPolicy) -> Vetted:
    """Check `raw` against the rules above and resolve it once; raise the refusal otherwise."""
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError):
        raise refuse("That export URL cannot be parsed; pass the https:// link Ango gave for the export.") from None
    host = url.host
    if not host:
        raise refuse("That export URL has no host; pass the https:// link Ango gave for the export.")
    if url.userinfo:
        raise refuse("Export URLs may not carry a user name or password; pass the signed https:// link.")
    if origin_of(url) in policy.trusted_origins:
        return Vetted(url, host, None)
    if url.scheme != "https":
        raise refuse(
            "Export URLs must be https:// (plain http:// only from the configured Ango API host); download "
            "the file where this server can read it and pass its path instead."
        )
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            with anyio.fail_after(policy.connect_timeout_s):
                addresses = list(await policy.resolver(host, url.port or 443))
        except (OSError, TimeoutError):
            raise refuse(f"Could not resolve {host}; check the export URL and the network.", "network") from None
    if not addresses:
        raise refuse(f"{host} resolves to no address; check the export URL.", "network")
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise refuse(
                f"{host} resolved to an unusable address; it was not contacted. Check the export URL, or download "
                "the file where this server can read it and pass its path."
            ) from None
        reason = non_public_reason(address)
        if reason:
            raise refuse(
                f"{host} resolves to {reason} ({address}); tasklens only downloads exports from public hosts. "
                "Download the file where this server can read it and pass its path."
            )
    return Vetted(url, host, addresses[0].split("%", 1)[0])


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects every request for `host` to the already vetted `address`, and refuses other hosts."""

    def __init__(self, host: str, address: str, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._host = host
        self._address = address
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        if host != self._host:
            raise httpcore.ConnectError(f"refusing to connect to unvetted host {host!r}")
        return await self._inner.connect_tcp(
            self._address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for export downloads")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose connections go to one vetted address (TLS still checks the host name).

    httpx does not expose httpcore's `network_backend`, so the transport's connection pool is replaced
    by one built with the pinning backend; request and response mapping stay httpx's own.
    """

    def __init__(self, host: str, address: str, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=1,
            network_backend=_PinnedBackend(host, address, inner),
        )


def _status_refusal(status: int, host: str) -> Exception:
    if 300 <= status < 400:
        return refuse(
            f"{host} answered the export download with a redirect (HTTP {status}); tasklens does not "
            "follow redirects for downloads. Pass the final https:// link.",
            "bad_response",
        )
    if status in (401, 403):
        return refuse(
            f"{host} refused the export download (HTTP {status}); signed export links expire, so "
            "request a new export and pass its link.",
            "forbidden",
        )
    if status == 404:
        return refuse(f"{host} has no file at that export link (HTTP 404); request a new export.", "not_found")
    if status >= 500:
        return refuse(f"{host} failed to serve the export (HTTP {status}); retry in a minute.", "unavailable")
    return refuse(f"{host} answered the export download with HTTP {status}; check the link.", "bad_request")


@dataclass
class Download:
    chunks: AsyncIterator[bytes]
    total: int | None


@asynccontextmanager
async def open_download(raw_url: str, policy: DownloadPolicy, limits: Limits) -> AsyncIterator[Download]:
    """Stream an export URL: a `Download` whose chunks are read as they arrive (size-capped)."""
    vetted = await vet_url(raw_url, policy)
    if vetted.address is not None:
        transport: httpx.AsyncBaseTransport | None = PinnedTransport(vetted.host, vetted.address)
    elif vetted.host == SANDBOX_HOST:
        transport = policy.sandbox_transport
    else:
        transport = None
    timeout = httpx.Timeout(policy.read_timeout_s, connect=policy.connect_timeout_s)
    headers = {"Accept-Encoding": "identity", "User-Agent": "tasklens"}
    host = vetted.host
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False, headers=headers
    ) as client:
        try:
            async with client.stream("GET", vetted.url) as response:
                if response.status_code != 200:
                    raise _status_refusal(response.status_code, host)
                total = whole_number(response.headers.get("content-length"), max_digits=18)
                if total is not None and total > limits.max_download_bytes:
                    raise refuse(
                        f"The export at {host} is {human_size(total)}, over tasklens' download limit of "
                        f"{human_size(limits.max_download_bytes)}; it was not downloaded. Download it yourself and "
                        "pass its path.",
                        "bad_response",
                    )
                yield Download(_capped(response, limits, host), total)
        except httpx.TimeoutException:
            raise refuse(
                f"The export download from {host} stalled; retry, or download the file and pass its path.", "timeout"
            ) from None
        except httpx.HTTPError:
            raise refuse(
                f"The export download from {host} broke off before it was complete; retry.", "network"
            ) from None


async def _capped(response: httpx.Response, limits: Limits, host: str) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in response.aiter_raw(CHUNK):
        received += len(chunk)
        if received > limits.max_download_bytes:
            raise refuse(
                f"The export at {host} is larger than tasklens' download limit of "
                f"{human_size(limits.max_download_bytes)}; it was not summarized. Download it yourself and pass "
                "its path.",
                "bad_response",
            )
        yield chunk
