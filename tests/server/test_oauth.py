"""OAuth resource-server mode, for real: a loopback authorization server publishing RSA and EC keys, a real
`tasklens serve --sandbox --http` subprocess trusting it, raw HTTP for every refusal, a real MCP client with
a good token, and the server's JSON log naming the caller of each upstream request."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.mcp_harness import INITIALIZE, LEGACY_POST, MAXSIGHT_TASK, SERVE_SANDBOX, wait_for_http
from support.oauth_idp import AUDIENCE, SCOPE, IdentityProvider
from support.ports import free_port
from tasklens.server.config import OAuthSettings
from tasklens.server.http_security import exposure_warnings
from tasklens.server.oauth import JwksCache, JwtVerifier, KeysUnavailable, TokenRefused, default_resource, metadata_url
from tasklens.server.oauth import keys as keys_module
from tasklens.server.sandbox import serve_on_loopback

pytestmark = pytest.mark.anyio
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


@asynccontextmanager
async def identity_provider() -> AsyncIterator[IdentityProvider]:
    idp = IdentityProvider()
    async with serve_on_loopback(idp) as origin:
        idp.issuer = origin
        yield idp


@asynccontextmanager
async def oauth_server(tmp_path: Path, env: Mapping[str, str]) -> AsyncIterator[tuple[str, Path]]:
    """`tasklens serve --sandbox --http` with `env`, JSON logs at INFO; yields (its origin, its stderr file)."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    clean = {name: value for name, value in os.environ.items() if not name.startswith("TASKLENS_")}
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*SERVE_SANDBOX, "--http", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**clean, "TASKLENS_LOG_LEVEL": "INFO", "TASKLENS_LOG_FORMAT": "json", **env},
        )
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
            yield f"http://127.0.0.1:{port}", log
        finally:
            process.terminate()
            process.wait(timeout=10)


def oauth_env(idp: IdentityProvider) -> dict[str, str]:
    return {"TASKLENS_OAUTH_ISSUER": idp.issuer, "TASKLENS_OAUTH_AUDIENCE": AUDIENCE}


def challenge_parameters(value: str) -> dict[str, str]:
    """The quoted parameters of a `Bearer` challenge (none of tasklens' values contains a quote)."""
    assert value.startswith("Bearer "), value
    pairs = [part.strip().split("=", 1) for part in value.removeprefix("Bearer ").split('",')]
    return {name: quoted.strip('"') for name, quoted in pairs}


async def test_metadata_refusals_and_a_real_client_over_http(tmp_path: Path) -> None:
    async with identity_provider() as idp, oauth_server(tmp_path, oauth_env(idp)) as (base, log):
        resource = f"{base}/mcp"
        expected_metadata_url = f"{base}/.well-known/oauth-protected-resource/mcp"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            # RFC 9728 metadata at both URLs, and the probes, without credentials
            for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
                metadata = await http.get(path)
                assert metadata.status_code == 200, path
                assert metadata.json() == {
                    "resource": resource,
                    "authorization_servers": [idp.issuer],
                    "scopes_supported": [SCOPE],
                    "bearer_methods_supported": ["header"],
                    "resource_name": "tasklens",
                }
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 200

            # no credentials: 401 naming the metadata and the scope, and no error code (RFC 6750 §3.1)
            for method, path in (("POST", "/mcp"), ("GET", "/mcp"), ("GET", "/anything")):
                bare = await http.request(method, path, headers=LEGACY_POST)
                assert bare.status_code == 401, (method, path)
                assert bare.headers["www-authenticate"] == (
                    f'Bearer realm="tasklens", scope="{SCOPE}", resource_metadata="{expected_metadata_url}"'
                )

            async def refused(token: str) -> tuple[int, dict[str, str]]:
                answer = await http.post(
                    "/mcp", json=INITIALIZE, headers={**LEGACY_POST, "authorization": f"Bearer {token}"}
                )
                return answer.status_code, challenge_parameters(answer.headers["www-authenticate"])

            hs256 = idp.forged("HS256", secret=idp.public_pem())  # the public key as an HMAC secret
            cases = {
                "expired": (idp.token(exp=int(time.time()) - 120), "expired"),
                "no exp": (idp.token(exp=None), "no exp claim"),
                "wrong audience": (idp.token(aud="someone-else"), "another audience"),
                "wrong issuer": (idp.token(iss="https://evil.example"), "another authorization server"),
                "alg none, unsigned": (jwt.encode(idp.claims(), None, algorithm="none"), "not a signed JWT"),
                "alg none, any signature": (idp.forged("none"), "accepted algorithm"),
                "HS256 keyed with the public key": (hs256, "accepted algorithm"),
                "garbage": ("not-a-jwt", "not a signed JWT"),
                "garbage parts": ("a.b.c", "header is not a JSON object"),
                "another key, published kid": (idp.token(key=idp.stranger), "signature does not verify"),
                "another key, unknown kid": (idp.token(kid="stranger", key=idp.stranger), "not in the authorization"),
                "ES256 header on the RSA key": (idp.token(kid="rsa-1", alg="ES256", key=idp.keys["ec-1"]), "match"),
                "too long": (idp.token(padding="x" * 9000), "longer than 8 KiB"),
            }
            for name, (token, reason) in cases.items():
                status, challenge = await refused(token)
                assert status == 401, name
                assert challenge["error"] == "invalid_token", name
                assert reason in challenge["error_description"], (name, challenge)
                assert challenge["resource_metadata"] == expected_metadata_url and challenge["scope"] == SCOPE, name

            # a valid token without the scope: 403 insufficient_scope, naming the scope to ask for
            for token in (idp.token(scope="profile"), idp.token(scope=None)):
                status, challenge = await refused(token)
                assert status == 403
                assert challenge["error"] == "insufficient_scope" and challenge["scope"] == SCOPE
                assert challenge["resource_metadata"] == expected_metadata_url

            # the session a token opened belongs to its subject: another caller's token cannot use it
            alice = {**LEGACY_POST, "authorization": f"Bearer {idp.token()}"}
            opened = await http.post("/mcp", json=INITIALIZE, headers=alice)
            assert opened.status_code == 200, opened.text
            session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
            bob = {**LEGACY_POST, **session, "authorization": f"Bearer {idp.token(sub='bob')}"}
            assert (await http.post("/mcp", json=TOOLS_LIST, headers=bob)).status_code == 404
            assert (await http.post("/mcp", json=TOOLS_LIST, headers={**alice, **session})).status_code == 200

        # a real MCP client with good tokens: RS256, PS256, ES256 (scp as a list), both protocol generations
        good = [
            (idp.token(), "auto"),
            (idp.token(alg="PS256"), "legacy"),
            (idp.token(kid="ec-1", alg="ES256", scope=None, scp=["openid", SCOPE]), "auto"),
        ]
        for token, mode in good:
            http2 = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            async with http2, Client(streamable_http_client(resource, http_client=http2), mode=mode) as client:
                result = await client.call_tool("get_task", MAXSIGHT_TASK)
                assert not result.is_error and result.structured_content["state"] == "waiting_on_human"
    stderr = log.read_text()
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    upstream = [line for line in lines if line["message"].startswith("upstream maxsight GET /maxsight/v5/tasks/")]
    assert upstream, stderr[-3000:]
    assert all(line["subject"] == "alice" and line["request_id"] for line in upstream), upstream
    assert all(line["message"].endswith(" ms") and " -> 200 in " in line["message"] for line in upstream)
    assert any("OAuth tokens from" in line["message"] for line in lines)
    assert any(line["message"].startswith("OAuth: bearer token refused: the token has expired") for line in lines)
    # one discovery and one key-set fetch served every token, the unknown kid included (it came too soon)
    assert (idp.discovery_requests, idp.jwks_requests) == (1, 1)
    sent = [token for token, _ in cases.values()] + [token for token, _ in good]
    payloads = [token.split(".")[1] for token in sent if token.count(".") == 2 and len(token) > 60]
    assert len(payloads) > 10 and not [payload for payload in payloads if payload in stderr]  # no token is logged


async def test_unreachable_keys_answer_503_and_the_configured_resource_and_scopes_are_published(
    tmp_path: Path,
) -> None:
    """An explicit TASKLENS_OAUTH_JWKS_URL nobody answers: a well-formed token gets 503 with Retry-After
    (the server's trouble, not the token's), never 401; the metadata carries the configured values."""
    async with identity_provider() as idp:
        env = {
            **oauth_env(idp),
            "TASKLENS_OAUTH_JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks",
            "TASKLENS_OAUTH_RESOURCE": "https://mcp.example.com/tasklens/mcp",
            "TASKLENS_OAUTH_SCOPES": "tasklens:read, tasklens:tasks",
        }
        async with oauth_server(tmp_path, env) as (base, log), httpx.AsyncClient(base_url=base, timeout=10) as http:
            metadata = (await http.get("/.well-known/oauth-protected-resource/tasklens/mcp")).json()
            assert metadata["resource"] == "https://mcp.example.com/tasklens/mcp"
            assert metadata["scopes_supported"] == ["tasklens:read", "tasklens:tasks"]
            token = idp.token(scope="tasklens:read tasklens:tasks")
            for _ in range(3):
                answer = await http.post(
                    "/mcp", json=INITIALIZE, headers={**LEGACY_POST, "authorization": f"Bearer {token}"}
                )
                assert answer.status_code == 503, answer.text
                assert 1 <= int(answer.headers["retry-after"]) <= 30
                assert "signing keys" in answer.json()["error_description"]
            bare = await http.post("/mcp", json=INITIALIZE, headers=LEGACY_POST)
            assert challenge_parameters(bare.headers["www-authenticate"]) == {
                "realm": "tasklens",
                "scope": "tasklens:read tasklens:tasks",
                "resource_metadata": "https://mcp.example.com/.well-known/oauth-protected-resource/tasklens/mcp",
            }
        assert idp.discovery_requests == 0
        warnings = [line for line in log.read_text().splitlines() if "cannot fetch the signing keys" in line]
        assert len(warnings) == 1, warnings  # three requests, one attempt within the refetch interval


def settings_for(idp: IdentityProvider, **changes: Any) -> OAuthSettings:
    return OAuthSettings(**{"issuer": idp.issuer, "audience": AUDIENCE, "scopes": (SCOPE,), **changes})


async def refusal(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(TokenRefused) as refused:
        await verifier.verify(token)
    return str(refused.value)


async def test_the_key_set_is_fetched_at_most_once_per_interval_and_kept_through_an_outage() -> None:
    now = [1000.0]
    async with identity_provider() as idp:
        verifier = JwtVerifier(settings_for(idp), JwksCache(idp.issuer, clock=lambda: now[0]))
        # twenty concurrent tokens naming unknown keys: one discovery and one fetch between them
        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(refusal, verifier, idp.token(kid=f"unknown-{index}", key=idp.stranger))
        assert (idp.discovery_requests, idp.jwks_requests) == (1, 1)
        assert (await verifier.verify(idp.token())).subject == "alice"
        # the issuer rotates in a new key: tokens naming it wait for the interval, then one fetch finds it
        idp.keys["rsa-2"] = idp.stranger
        rotated = idp.token(kid="rsa-2")
        now[0] += 29
        assert "not in the authorization server's key set" in await refusal(verifier, rotated)
        assert idp.jwks_requests == 1
        now[0] += 2
        assert (await verifier.verify(rotated)).subject == "alice" and idp.jwks_requests == 2
        # an hour on the keys are fetched again; when that fails the ones held keep working
        idp.jwks_status = 503
        now[0] += 3600
        assert (await verifier.verify(idp.token())).subject == "alice" and idp.jwks_requests == 3
        assert (await verifier.verify(idp.token(kid="ec-1", alg="ES256"))).subject == "alice"
        assert idp.jwks_requests == 3


async def test_fetching_keys_is_bounded_in_time_size_and_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    async with identity_provider() as idp:
        # nothing fetchable yet: KeysUnavailable, with the wait until the next attempt
        idp.jwks_status = 500
        cache = JwksCache(idp.issuer, f"{idp.issuer}/jwks")
        with pytest.raises(KeysUnavailable) as unavailable:
            await cache.key_for("rsa-1")
        assert 29 < unavailable.value.retry_after_s <= 30
        # a body that trickles in forever is cut at the deadline
        monkeypatch.setattr(keys_module, "FETCH_DEADLINE_S", 0.3)
        idp.jwks_status, idp.trickle_s = 200, 1.0
        with anyio.fail_after(2), pytest.raises(KeysUnavailable):
            await JwksCache(idp.issuer, f"{idp.issuer}/jwks").key_for("rsa-1")
        # a key set larger than the cap is not read to its end
        idp.trickle_s = 0.0
        idp.extra_keys = [{"kty": "oct", "k": "x" * 1024, "kid": f"pad-{index}"} for index in range(300)]
        with pytest.raises(KeysUnavailable):
            await JwksCache(idp.issuer, f"{idp.issuer}/jwks").key_for("rsa-1")
        idp.extra_keys = []
        # discovery: metadata naming another issuer is refused; RFC 8414's URL is tried after OpenID's
        idp.advertised_issuer = "https://evil.example"
        with pytest.raises(KeysUnavailable):
            await JwksCache(idp.issuer).key_for("rsa-1")
        idp.advertised_issuer, idp.discovery = None, "oauth"
        assert (await JwksCache(idp.issuer).key_for("rsa-1")) is not None


def test_only_public_asymmetric_signing_keys_are_kept() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def rsa_jwk(bits: int, **extra: Any) -> dict[str, Any]:
        public = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
        return {**jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True), **extra}

    good = rsa_jwk(2048, kid="good")
    private = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 2048)))
    k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    entries = [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        rsa_jwk(1024, kid="short"),
        {**private, "kid": "private"},
        {**good, "kid": "encryption", "use": "enc"},
        {**good, "kid": "hs", "alg": "HS256"},
        {**good, "kid": "verify-not-allowed", "key_ops": ["encrypt"]},
        {**jwt.algorithms.ECAlgorithm.to_jwk(k1, as_dict=True), "kid": "secp256k1"},
        {"kty": "RSA", "n": "!!", "e": "AQAB", "kid": "broken"},
        "not a key",
        good,
    ]
    assert [key.kid for key in keys_module.parse_jwks({"keys": entries})] == ["good"]
    (key,) = keys_module.parse_jwks({"keys": [{**good, "alg": "PS256"}]})
    assert key.verifies("PS256") and not key.verifies("RS256") and not key.verifies("ES256")


async def test_what_the_verifier_accepts_and_why_it_refuses() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    async with identity_provider() as idp:
        edwards = ed25519.Ed25519PrivateKey.generate()
        idp.extra_keys = [{**jwt.algorithms.OKPAlgorithm.to_jwk(edwards.public_key(), as_dict=True), "kid": "ed-1"}]
        verifier = JwtVerifier(settings_for(idp), JwksCache(idp.issuer))
        assert (await verifier.verify(idp.token(kid="ed-1", alg="EdDSA", key=edwards))).subject == "alice"
        now = int(time.time())
        grant = await verifier.verify(idp.token(aud=["other", AUDIENCE], scp=f"openid {SCOPE}", scope=None))
        assert (grant.subject, grant.client_id, grant.scopes) == ("alice", "test-client", ["openid", SCOPE])
        assert grant.expires_at == now + 300 or grant.expires_at == now + 301
        assert (await verifier.verify_token(idp.token(azp="from-azp", client_id=None))).client_id == "from-azp"
        assert await verifier.verify_token(idp.token(aud="other")) is None  # the SDK's protocol: None, not a raise
        # clock skew: 30 s either way is tolerated, more is not
        assert await verifier.verify(idp.token(exp=now - 10, nbf=now + 10))
        assert "not valid yet" in await refusal(verifier, idp.token(nbf=now + 120))
        assert "not valid yet" in await refusal(verifier, idp.token(iat=now + 120))
        assert "another audience" in await refusal(verifier, idp.token(aud=["other"]))
        assert "no sub claim" in await refusal(verifier, idp.token(sub=None))
        assert "sub is not a string" in await refusal(verifier, idp.token(sub=42))
        assert "1 to 255 printable characters" in await refusal(verifier, idp.token(sub="x" * 256))
        assert "printable" in await refusal(verifier, idp.token(sub="alice\n2026-01-01 INFO forged line"))
        assert (await verifier.verify(idp.token(sub="auth0|ünïcode-0123"))).subject == "auth0|ünïcode-0123"
        assert "critical header" in await refusal(
            verifier,
            jwt.encode(idp.claims(), idp.keys["rsa-1"], algorithm="RS256", headers={"kid": "rsa-1", "crit": ["exp"]}),
        )
        nested = base64_json("[" * 2000 + "]" * 2000)  # past json.loads' recursion limit, within 8 KiB
        assert "header is not a JSON object" in await refusal(verifier, f"{nested}.e30.c2ln")
        # no kid: accepted only when the set holds a single key
        assert "kid" in await refusal(verifier, idp.token(kid=None))
        del idp.keys["ec-1"]
        idp.extra_keys = []
        single = JwtVerifier(settings_for(idp), JwksCache(idp.issuer))
        assert (await single.verify(idp.token(kid=None))).subject == "alice"


def base64_json(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_resource_urls_and_exposure_warnings() -> None:
    assert default_resource("127.0.0.1", 8765) == "http://127.0.0.1:8765/mcp"
    assert default_resource("::1", 8765) == "http://[::1]:8765/mcp"
    assert default_resource("0.0.0.0", 8765) == "http://127.0.0.1:8765/mcp"
    assert (
        metadata_url("https://mcp.example.com/mcp")
        == "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
    )
    assert metadata_url("https://mcp.example.com") == "https://mcp.example.com/.well-known/oauth-protected-resource"
    oauth = OAuthSettings(issuer="https://idp.example.com", audience="tasklens")
    assert exposure_warnings("192.168.1.5", None, oauth=oauth) == [
        "tasklens HTTP is bound to 192.168.1.5, beyond loopback, and TASKLENS_OAUTH_RESOURCE is not set: the "
        "protected-resource metadata names a loopback URL that remote clients cannot use. Set it to the public "
        "URL of /mcp."
    ]
    published = OAuthSettings(
        issuer="https://idp.example.com", audience="tasklens", resource="https://mcp.example.com/mcp"
    )
    assert exposure_warnings("192.168.1.5", None, oauth=published) == []
    assert exposure_warnings("127.0.0.1", None, oauth=oauth) == []
