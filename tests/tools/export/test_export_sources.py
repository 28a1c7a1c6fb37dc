"""Where summarize_export may read from: configured roots for files, public https hosts for URLs.

Each refusal is tested: paths outside the roots, `..`, symlinks escaping a root, non-regular files; plain
http (outside sandbox mode), credentials in URLs, hosts resolving to loopback, private, link-local,
carrier-grade NAT or metadata addresses (also IPv6-embedded), redirects, oversized downloads. And the
connection goes to the address that was vetted, not to a second DNS answer.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

import anyio
import httpcore
import httpx
import pytest

from support.export_fixtures import ExportGenerator, encode, wrap
from tasklens.tools.errors import ProviderError
from tasklens.tools.export.download import (
    DownloadPolicy,
    PinnedTransport,
    _PinnedBackend,
    non_public_reason,
    open_download,
    origin_of,
    vet_url,
)
from tasklens.tools.export.pipeline import ExportReader, ExportSettings, read_local, read_url
from tasklens.tools.export.sources import open_local
from tasklens.tools.export.unpack import Limits

pytestmark = pytest.mark.anyio


def _refusal(call: Any, *args: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call(*args)
    return caught.value


# ---- local files -------------------------------------------------------------------------------------
@pytest.fixture
def roots(tmp_path: Any) -> tuple[str, ...]:
    root = tmp_path / "exports"
    root.mkdir()
    (root / "ok.json").write_bytes(encode(ExportGenerator(1).assets(3)))
    (tmp_path / "secret.json").write_text("[]")
    return (str(root),)


def test_a_file_inside_a_root_is_read_absolute_or_relative(roots: tuple[str, ...]) -> None:
    for path in (os.path.join(roots[0], "ok.json"), "ok.json"):
        local = open_local(path, roots)
        with local.file:
            assert local.size > 0 and local.file.read(1) == b"["


def test_paths_outside_the_roots_are_refused(roots: tuple[str, ...]) -> None:
    outside = os.path.join(os.path.dirname(roots[0]), "secret.json")
    error = _refusal(open_local, outside, roots)
    assert error.kind == "invalid_argument" and "outside the export roots" in error.for_model()
    assert "TASKLENS_EXPORT_ROOTS" in error.for_model()
    assert "outside the export roots" in _refusal(open_local, "/etc/passwd", roots).for_model()


def test_dot_dot_is_refused_even_when_it_stays_inside(roots: tuple[str, ...]) -> None:
    assert "may not contain '..'" in _refusal(open_local, "../exports/ok.json", roots).for_model()
    assert (
        "may not contain '..'" in _refusal(open_local, os.path.join(roots[0], "..", "secret.json"), roots).for_model()
    )


def test_a_symlink_escaping_the_roots_is_refused_one_inside_is_followed(roots: tuple[str, ...]) -> None:
    root = roots[0]
    os.symlink(os.path.join(os.path.dirname(root), "secret.json"), os.path.join(root, "escape.json"))
    os.symlink(os.path.join(root, "ok.json"), os.path.join(root, "alias.json"))
    assert "symlink to a place outside" in _refusal(open_local, "escape.json", roots).for_model()
    with open_local("alias.json", roots).file as file:
        assert file.read(1) == b"["


def test_non_regular_files_are_refused(roots: tuple[str, ...]) -> None:
    root = roots[0]
    os.mkfifo(os.path.join(root, "pipe.json"))
    os.mkdir(os.path.join(root, "folder.json"))
    assert "is a FIFO" in _refusal(open_local, "pipe.json", roots).for_model()  # and did not block
    assert "is a directory" in _refusal(open_local, "folder.json", roots).for_model()
    assert "is a character device" in _refusal(open_local, "/dev/zero", ("/dev",)).for_model()


def test_a_symlink_swapped_while_its_path_is_resolved_gets_its_own_sentence(
    roots: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """realpath lstat()s a symlink, then readlink()s it; replaced by a file in between, readlink fails."""
    os.symlink(os.path.join(roots[0], "ok.json"), os.path.join(roots[0], "alias.json"))

    def swapped(path: Any, *args: Any, **kwargs: Any) -> str:
        raise OSError(22, "Invalid argument", path)

    monkeypatch.setattr(os, "readlink", swapped)
    error = _refusal(open_local, "alias.json", roots)
    assert "alias.json changed while its path was being resolved; it was not read" in error.for_model()


def test_a_file_replaced_by_a_symlink_before_the_open_gets_its_own_sentence(
    roots: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_realpath = os.path.realpath

    def then_swap(path: Any, *args: Any, **kwargs: Any) -> str:
        resolved = real_realpath(path, *args, **kwargs)
        if str(path).endswith("ok.json"):  # the moment after the check: a symlink takes the file's place
            os.replace(resolved, resolved + ".moved")
            os.symlink(resolved + ".moved", resolved)
        return resolved

    monkeypatch.setattr(os.path, "realpath", then_swap)
    message = _refusal(open_local, "ok.json", roots).for_model()
    assert "replaced by a symlink between being checked and being opened; it was not read" in message


def test_symlink_loops_and_long_chains_are_refused_with_a_sentence(roots: tuple[str, ...]) -> None:
    root = roots[0]
    os.symlink("loop.json", os.path.join(root, "loop.json"))
    assert "is a symlink loop" in _refusal(open_local, "loop.json", roots).for_model()
    previous = "ok.json"
    for i in range(1500):  # each link is one level of realpath's recursion
        os.symlink(previous, os.path.join(root, f"chain{i}"))
        previous = f"chain{i}"
    assert "too long a chain of symlinks" in _refusal(open_local, previous, roots).for_model()


def test_a_missing_file_is_not_found(roots: tuple[str, ...]) -> None:
    error = _refusal(open_local, "nope.json", roots)
    assert error.kind == "not_found" and "There is no file at nope.json" in error.for_model()


async def test_local_progress_reaches_the_total(roots: tuple[str, ...]) -> None:
    reports: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        reports.append((done, total))

    reader = ExportReader()
    await read_local(reader, "ok.json", ExportSettings(roots=roots), progress)
    size = os.path.getsize(os.path.join(roots[0], "ok.json"))
    assert reports[-1] == (size, size) and reader.accumulator.assets == 3


# ---- URLs --------------------------------------------------------------------------------------------
def resolver_for(*addresses: str) -> Any:
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def _vet_refusal(url: str, policy: DownloadPolicy) -> str:
    with pytest.raises(ProviderError) as caught:
        await vet_url(url, policy)
    return caught.value.for_model()


async def test_only_https_outside_sandbox_mode() -> None:
    policy = DownloadPolicy(resolver=resolver_for("93.184.216.34"))
    assert "must be https://" in await _vet_refusal("http://exports.example/x.zip", policy)
    assert "must be https://" in await _vet_refusal("http://127.0.0.1:8800/_sandbox/x.zip", policy)
    assert "must be https://" in await _vet_refusal("ftp://exports.example/x.zip", policy)
    assert "user name or password" in await _vet_refusal("https://u:p@exports.example/x.zip", policy)
    vetted = await vet_url("https://exports.example/x.zip?X-Amz-Signature=abc", policy)
    assert vetted.address == "93.184.216.34"


def _sandbox_at(origin: str, **kwargs: Any) -> DownloadPolicy:
    """The policy of sandbox mode: the sandbox serves Ango, so its origin is the trusted Ango origin."""
    trusted = origin_of(origin)
    assert trusted is not None
    return DownloadPolicy(trusted_origins=frozenset({trusted}), **kwargs)


async def test_sandbox_mode_allows_only_its_own_loopback_origin() -> None:
    policy = _sandbox_at("http://127.0.0.1:8800", resolver=resolver_for("10.0.0.1"))
    assert (await vet_url("http://127.0.0.1:8800/_sandbox/x.zip", policy)).address is None
    # any other local port is another service (ssh on 22, a database): refused like any plain http
    for other in ("http://127.0.0.1:22/", "http://127.0.0.1:8801/x.zip", "http://[::1]:8800/x.zip"):
        assert "must be https://" in await _vet_refusal(other, policy)
    assert "must be https://" in await _vet_refusal("http://exports.example/x.zip", policy)
    assert "a private address" in await _vet_refusal("https://exports.example/x.zip", policy)


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.10.1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "reserved"),
        ("240.0.0.1", "reserved"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fd00:ec2::254", "cloud metadata"),
        ("fe80::1", "link-local"),
        ("fc00::5", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("2002:a00:1::1", "private"),  # 6to4 wrapping 10.0.0.1
        ("fec0::1", "site-local"),
    ],
)
async def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert reason in (non_public_reason(ipaddress.ip_address(address)) or "")
    message = await _vet_refusal("https://exports.example/x.zip", DownloadPolicy(resolver=resolver_for(address)))
    assert reason in message and "only downloads exports from public hosts" in message
    literal = f"[{address}]" if ":" in address else address
    assert reason in await _vet_refusal(f"https://{literal}/x.zip", DownloadPolicy(resolver=resolver_for()))


async def test_one_private_answer_among_public_ones_is_enough_to_refuse() -> None:
    policy = DownloadPolicy(resolver=resolver_for("93.184.216.34", "10.0.0.7"))
    assert "a private address (10.0.0.7)" in await _vet_refusal("https://exports.example/x.zip", policy)


async def test_the_connection_goes_to_the_vetted_address_not_a_new_lookup() -> None:
    """DNS rebinding: the pinned backend never resolves again, and refuses any other host."""
    connected: list[tuple[str, int]] = []

    class Recorder(httpcore.AsyncNetworkBackend):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> Any:
            connected.append((host, port))
            raise httpcore.ConnectError("recorded")

        async def sleep(self, seconds: float) -> None:
            await anyio.sleep(seconds)

    resolve = resolver_for("93.184.216.34")
    vetted = await vet_url("https://exports.example/x.zip", DownloadPolicy(resolver=resolve))
    transport = PinnedTransport(vetted.host, vetted.address or "", inner=Recorder())
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://exports.example/x.zip")
        with pytest.raises(httpx.ConnectError, match="unvetted host"):
            await client.get("https://elsewhere.example/x.zip")
    assert connected == [("93.184.216.34", 443)]
    assert resolve.calls == ["exports.example"]
    with pytest.raises(httpcore.ConnectError):
        await _PinnedBackend("a.example", "93.184.216.34", Recorder()).connect_tcp("b.example", 443)


# ---- downloads over real loopback HTTP ---------------------------------------------------------------
class _Files:
    """A tiny ASGI app serving fixed bodies, redirects and lies about Content-Length."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        self.routes = routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        status, headers, body = self.routes.get(scope["path"], (404, {}, b"missing"))
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        if "content-length" not in headers:
            raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def served() -> Any:
    from tasklens.server.sandbox import serve_on_loopback

    data = wrap(encode(ExportGenerator(2).assets(40)), "zip")
    app = _Files(
        {
            "/export.zip": (200, {}, data),
            "/moved.zip": (302, {"location": "/export.zip"}, b""),
            "/expired.zip": (403, {}, b"<Error>Request has expired</Error>"),
            "/huge.zip": (200, {"content-length": str(1 << 40)}, b""),
        }
    )
    async with serve_on_loopback(app) as origin:  # type: ignore[arg-type]
        yield origin, data


async def _read(url: str, settings: ExportSettings) -> ExportReader:
    reader = ExportReader()
    await read_url(reader, url, settings, None)
    return reader


async def test_sandbox_loopback_download_streams_a_zip(served: Any) -> None:
    origin, data = served
    reader = await _read(
        f"{origin}/export.zip?X-Amz-Signature=s", ExportSettings(sandbox=True, download=_sandbox_at(origin))
    )
    assert reader.accumulator.assets == 40 and reader.bytes_in == len(data)


async def test_the_same_loopback_url_is_refused_outside_sandbox_mode(served: Any) -> None:
    origin, _ = served
    with pytest.raises(ProviderError, match="must be https://"):
        await _read(f"{origin}/export.zip", ExportSettings())


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/moved.zip", "does not follow redirects"),
        ("/expired.zip", "signed export links expire"),
        ("/nothing.zip", "HTTP 404"),
        ("/huge.zip", "over tasklens' download limit"),
    ],
)
async def test_download_failures_are_one_sentence(served: Any, path: str, expected: str) -> None:
    origin, _ = served
    settings = ExportSettings(sandbox=True, download=_sandbox_at(origin))
    with pytest.raises(ProviderError) as caught:
        await _read(origin + path, settings)
    assert expected in caught.value.for_model() and "Expired" not in caught.value.for_model()


async def test_a_body_larger_than_the_cap_is_cut_while_streaming(served: Any) -> None:
    origin, data = served
    settings = ExportSettings(
        sandbox=True, download=_sandbox_at(origin), limits=Limits(max_download_bytes=len(data) - 1)
    )
    with pytest.raises(ProviderError, match="over tasklens' download limit"):
        await _read(f"{origin}/export.zip", settings)
    async with open_download(
        f"{origin}/export.zip", _sandbox_at(origin), Limits(max_download_bytes=len(data) + 10)
    ) as download:
        assert download.total == len(data)


@pytest.mark.parametrize("declared", ["9" * 5000, "²", "-1"])
async def test_an_unusable_content_length_is_ignored_and_the_cap_still_holds(declared: str) -> None:
    """5,000 digits pass isdigit() and break int(); '²' passes isdigit() too. Neither is a length."""
    data = b"x" * 100
    app = _Files({"/e.zip": (200, {"content-length": declared}, data)})
    policy = DownloadPolicy(
        trusted_origins=frozenset({("http", "sandbox", 80)}), sandbox_transport=httpx.ASGITransport(app=app)
    )
    async with open_download("http://sandbox/e.zip", policy, Limits(max_download_bytes=1000)) as download:
        assert download.total is None
        assert b"".join([chunk async for chunk in download.chunks]) == data


def test_signed_query_strings_never_reach_the_logs(caplog: Any) -> None:
    import logging

    import tasklens.tools.export.download  # noqa: F401 - installs the filter

    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info(
            "HTTP Request: %s %s", "GET", httpx.URL("https://s3.example/e.zip?X-Amz-Signature=SECRET")
        )
    assert "SECRET" not in caplog.text and "[redacted]" in caplog.text
