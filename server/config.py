"""Configuration from the environment: which providers are reachable, where, and with which key.

A provider without a key is "not configured": the server still starts, and calling it returns an
isError result naming the variable to set. Values that are present but wrong (an unknown region, a
non-numeric rate) stop the server at startup with a message, because guessing would send a key to
the wrong host.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tasklens.tools.providers import SPECS, ProviderSettings, ProviderSpec
from tasklens.tools.providers.registry import PROVIDER_VARIABLES
from tasklens.tools.results.provider_name import ProviderName
from tasklens.tools.untrusted import whole_number

TRUE_VALUES = ("1", "true", "yes", "on")

# Every variable tasklens reads, for README, manifests and `tasklens doctor` to agree on.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    **PROVIDER_VARIABLES,
    "TASKLENS_SANDBOX": "1 to serve the built-in simulated providers instead (no keys needed)",
    "TASKLENS_LOG_LEVEL": "stderr log level (default INFO)",
    "TASKLENS_LOG_FORMAT": "text (default) or json: one JSON object per stderr log line, with the HTTP request id",
    "TASKLENS_HTTP_TOKEN": (
        "HTTP transport only: bearer token every request must carry (16+ visible ASCII characters)"
    ),
    "TASKLENS_HTTP_ALLOWED_HOSTS": (
        "HTTP transport only: extra Host values to accept, comma-separated (name or name:port)"
    ),
    "TASKLENS_OAUTH_ISSUER": (
        "HTTP transport only: the OAuth authorization server whose JWT access tokens are accepted "
        "(exactly its iss; setting it turns OAuth on)"
    ),
    "TASKLENS_OAUTH_AUDIENCE": "HTTP transport with OAuth: the aud a token must carry (required with the issuer)",
    "TASKLENS_OAUTH_JWKS_URL": (
        "HTTP transport with OAuth: the issuer's JWKS URL (default: jwks_uri from its discovery document)"
    ),
    "TASKLENS_OAUTH_SCOPES": (
        "HTTP transport with OAuth: scopes every token must carry, space- or comma-separated (default tasklens:read)"
    ),
    "TASKLENS_OAUTH_RESOURCE": (
        "HTTP transport with OAuth: the public URL of /mcp, for the protected-resource metadata "
        "(default http://HOST:PORT/mcp)"
    ),
    "TASKLENS_EXPORT_ROOTS": (
        "folders summarize_export may read files from, separated by os.pathsep "
        "(default: the working directory, unless it is / or the home directory)"
    ),
    "TASKLENS_REDIS_URL": (
        "redis://host:port/db shared by every replica: one rate budget per provider key, export summaries, "
        "poll pace (default: none, each process keeps its own)"
    ),
    "TASKLENS_REPLICAS": (
        "how many replicas share TASKLENS_REDIS_URL; while Redis is unreachable each holds a provider to "
        "rate / replicas (default 1)"
    ),
    "TASKLENS_SANDBOX_URL": (
        "with --sandbox: the origin of a running `tasklens sandbox` to share between replicas "
        "(default: an in-process sandbox)"
    ),
    "TASKLENS_EXPORT_HELPER": (
        "0 to read large local exports in one process "
        "(default 1: a helper process shares the work, ~40 MiB more memory)"
    ),
}
MIN_TOKEN_LENGTH = 16
_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what an Authorization header can carry verbatim
DEFAULT_OAUTH_SCOPES = ("tasklens:read",)
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 scope-token: fits a quoted header parameter
_QUOTABLE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,512}")  # visible ASCII but quote and backslash
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")


class ConfigError(ValueError):
    """A variable is set to a value tasklens cannot use; the message names it and the accepted values."""


def default_export_roots(cwd: str | None = None, home: str | None = None) -> tuple[str, ...]:
    """The working directory, unless it is the home directory or one of its parents (`/` included).

    A client started from a desktop runs its servers in `/` or in the home directory, where a root would
    open SSH keys and every other file of the account to a prompt-injected path; there the default is no
    root at all, and local paths are refused with a sentence naming TASKLENS_EXPORT_ROOTS."""
    cwd = os.path.realpath(cwd if cwd is not None else os.getcwd())
    home = os.path.realpath(home if home is not None else os.path.expanduser("~"))
    if os.path.dirname(cwd) == cwd or os.path.commonpath([cwd, home]) == cwd:
        return ()
    return (cwd,)


@dataclass(frozen=True)
class OAuthSettings:
    """OAuth resource-server mode: whose tokens are accepted, for which audience, with which scopes."""

    issuer: str
    audience: str
    scopes: tuple[str, ...] = DEFAULT_OAUTH_SCOPES
    jwks_url: str | None = None  # None: discovered from the issuer's metadata
    resource: str | None = None  # None: derived from the bound host and port


@dataclass(frozen=True)
class Config:
    providers: dict[ProviderName, ProviderSettings]
    sandbox: bool = False
    log_level: str = "INFO"
    log_format: str = "text"
    http_token: str | None = field(default=None, repr=False)  # a secret: never in a repr or a log line
    http_allowed_hosts: tuple[str, ...] = ()
    oauth: OAuthSettings | None = None
    export_roots: tuple[str, ...] = field(default_factory=default_export_roots)
    export_helper: bool = True
    redis_url: str | None = field(default=None, repr=False)  # may carry a password
    replicas: int = 1
    sandbox_url: str | None = None


def load_config(env: Mapping[str, str] | None = None, *, sandbox: bool | None = None) -> Config:
    """Read the configuration; `sandbox=True` (or TASKLENS_SANDBOX=1) ignores every real key."""
    env = os.environ if env is None else env
    log_format = env.get("TASKLENS_LOG_FORMAT", "text").strip().lower() or "text"
    if log_format not in ("text", "json"):
        raise ConfigError(f"TASKLENS_LOG_FORMAT must be text or json (got {log_format[:20]!r})")
    log_level = env.get("TASKLENS_LOG_LEVEL", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"TASKLENS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR (got {log_level!r})")
    if sandbox is None:
        sandbox = env.get("TASKLENS_SANDBOX", "").strip().lower() in TRUE_VALUES
    http_token = _http_token(env.get("TASKLENS_HTTP_TOKEN", ""))
    allowed_hosts = _allowed_hosts(env.get("TASKLENS_HTTP_ALLOWED_HOSTS", ""))
    oauth = _oauth(env)
    if oauth is not None and http_token is not None:
        raise ConfigError(
            "TASKLENS_OAUTH_ISSUER and TASKLENS_HTTP_TOKEN are both set; choose one: OAuth tokens from an "
            "authorization server, or one static bearer token"
        )
    roots = _export_roots(env.get("TASKLENS_EXPORT_ROOTS", ""))
    helper = env.get("TASKLENS_EXPORT_HELPER", "1").strip().lower()
    if helper not in TRUE_VALUES and helper not in ("0", "false", "no", "off"):
        raise ConfigError(f"TASKLENS_EXPORT_HELPER must be 1 or 0 (got {helper[:20]!r})")
    providers = {} if sandbox else {spec.name: _provider(spec, env) for spec in SPECS}
    redis_url = _redis_url(env.get("TASKLENS_REDIS_URL", ""))
    replicas = _replicas(env.get("TASKLENS_REPLICAS", ""))
    sandbox_url = _sandbox_url(env.get("TASKLENS_SANDBOX_URL", ""))
    return Config(
        providers=providers,
        sandbox=sandbox,
        log_level=log_level,
        log_format=log_format,
        http_token=http_token,
        http_allowed_hosts=allowed_hosts,
        oauth=oauth,
        export_roots=roots,
        export_helper=helper in TRUE_VALUES,
        redis_url=redis_url,
        replicas=replicas,
        sandbox_url=sandbox_url,
    )


def _redis_url(raw: str) -> str | None:
    """A redis://, rediss:// or unix:// URL, or None. The error never quotes it: it may hold a password."""
    url = raw.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
        raise ConfigError(
            "TASKLENS_REDIS_URL must be a redis://host:port/db, rediss://host:port/db or unix:///path URL"
        )
    return url


def _replicas(raw: str) -> int:
    raw = raw.strip()
    if not raw:
        return 1
    replicas = whole_number(raw, max_digits=4)
    if replicas is None or replicas < 1:
        raise ConfigError(f"TASKLENS_REPLICAS must be a whole number from 1 to 9999 (got {raw[:20]!r})")
    return replicas


def _sandbox_url(raw: str) -> str | None:
    """The origin of a shared `tasklens sandbox`. Plain http is fine: the sandbox's keys are public."""
    url = raw.strip().rstrip("/")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ConfigError(f"TASKLENS_SANDBOX_URL must be an origin such as http://127.0.0.1:8800 (got {url[:60]!r})")
    return url


def _http_token(raw: str) -> str | None:
    """The bearer token, or None. The error never quotes the value: it is a secret, however wrong."""
    token = raw.strip()
    if not token:
        return None
    if len(token) < MIN_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
        raise ConfigError(
            f"TASKLENS_HTTP_TOKEN must be at least {MIN_TOKEN_LENGTH} visible ASCII characters without spaces; "
            'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    return token


def _allowed_hosts(raw: str) -> tuple[str, ...]:
    """Extra Host header values, lowercased: a DNS name or IP literal, optionally with its port."""
    hosts = tuple(item.strip().lower() for item in raw.split(",") if item.strip())
    for host in hosts:
        if not _HOST.fullmatch(host):
            raise ConfigError(
                "TASKLENS_HTTP_ALLOWED_HOSTS must be comma-separated host names or IP literals, each optionally "
                f"with :port (for example mcp.example.com,10.0.0.5:8765, [fd00::5]:8765); got {host!r}"
            )
    return hosts


def _oauth(env: Mapping[str, str]) -> OAuthSettings | None:
    """OAuth settings when TASKLENS_OAUTH_ISSUER is set; any other OAuth variable without it is an error,
    since the operator meant to protect the server and it would run without that protection."""
    raw = {name: env.get(name, "").strip() for name in ENVIRONMENT_VARIABLES if name.startswith("TASKLENS_OAUTH_")}
    issuer = raw.pop("TASKLENS_OAUTH_ISSUER")
    if not issuer:
        stray = [name for name, value in raw.items() if value]
        if stray:
            raise ConfigError(f"{stray[0]} is set but TASKLENS_OAUTH_ISSUER is not; set the issuer to turn OAuth on")
        return None
    audience = raw["TASKLENS_OAUTH_AUDIENCE"]
    if not audience:
        raise ConfigError(
            "TASKLENS_OAUTH_AUDIENCE must be set with TASKLENS_OAUTH_ISSUER: the aud your authorization server "
            "puts in tokens for tasklens (often the public URL of /mcp)"
        )
    if not _QUOTABLE.fullmatch(audience):
        raise ConfigError(
            "TASKLENS_OAUTH_AUDIENCE must be at most 512 visible ASCII characters without spaces, quotes or backslashes"
        )
    named = [scope for scope in re.split(r"[\s,]+", raw["TASKLENS_OAUTH_SCOPES"]) if scope]
    scopes = tuple(dict.fromkeys(named)) or DEFAULT_OAUTH_SCOPES
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise ConfigError(
                "TASKLENS_OAUTH_SCOPES must be scope names separated by spaces or commas, without quotes or "
                f"backslashes (got {scope[:40]!r})"
            )
    jwks_url = raw["TASKLENS_OAUTH_JWKS_URL"]
    resource = raw["TASKLENS_OAUTH_RESOURCE"]
    return OAuthSettings(
        issuer=_oauth_url("TASKLENS_OAUTH_ISSUER", issuer),
        audience=audience,
        scopes=scopes,
        jwks_url=_oauth_url("TASKLENS_OAUTH_JWKS_URL", jwks_url) if jwks_url else None,
        resource=_oauth_url("TASKLENS_OAUTH_RESOURCE", resource) if resource else None,
    )


def _oauth_url(variable: str, url: str) -> str:
    """An https:// URL (http:// to this machine) without query, fragment or characters a quoted header
    parameter cannot carry; kept exactly as written, because an issuer is compared character for character."""
    parsed = urlsplit(checked_url(variable, url))
    if parsed.query or parsed.fragment or "#" in url or not _QUOTABLE.fullmatch(url):
        raise ConfigError(f"{variable} must be a plain URL without spaces, quotes, query or fragment; got {url[:80]!r}")
    return url


def _export_roots(raw: str) -> tuple[str, ...]:
    """The folders summarize_export may read (absolute, symlinks resolved); `default_export_roots()` when unset."""
    parts = [part.strip() for part in raw.split(os.pathsep) if part.strip()]
    if not parts:
        return default_export_roots()
    roots = []
    for part in parts:
        path = os.path.realpath(os.path.expanduser(part))
        if not os.path.isdir(path):
            raise ConfigError(f"TASKLENS_EXPORT_ROOTS lists {part!r}, which is not a directory")
        roots.append(path)
    return tuple(roots)


def _provider(spec: ProviderSpec, env: Mapping[str, str]) -> ProviderSettings:
    key = env.get(spec.key_variable, "").strip() or None
    url = env.get(spec.url_variable, "").strip().rstrip("/") or None
    rpm = _requests_per_minute(spec, env)
    missing = "" if key else f"set {spec.key_variable}"
    defaults: dict[str, str] = {}
    for argument in spec.defaults:
        value = env.get(spec.default_variable(argument.field), "").strip()
        if value:
            defaults[argument.field] = value
    if url is None:
        url = _default_url(spec, env)
        if url is None and key:
            missing = spec.unlocated
    if url is not None:
        url = spec.api_root(checked_url(spec.url_variable, url))
    return ProviderSettings(
        name=spec.name, api_key=key, base_url=url, requests_per_minute=rpm, defaults=defaults, missing=missing
    )


def _default_url(spec: ProviderSpec, env: Mapping[str, str]) -> str | None:
    """The host the region variable picks, else the provider's default host (None when it has none)."""
    if spec.regions is None:
        return spec.default_url
    region = env.get(spec.region_variable, "").strip().lower()
    if not region:
        return spec.default_url
    if region not in spec.regions.hosts:
        raise ConfigError(f"{spec.region_variable} must be {spec.regions.choices} (got {region!r})")
    return spec.regions.hosts[region]


def checked_url(variable: str, url: str) -> str:
    """https:// anywhere; plain http:// only to this machine (a sandbox), never sending a key in clear."""
    parsed = urlsplit(url)
    if parsed.scheme == "https" and parsed.netloc:
        return url
    if parsed.scheme == "http" and (parsed.hostname or "") in ("127.0.0.1", "localhost", "::1"):
        return url
    raise ConfigError(
        f"{variable} must be an https:// URL (plain http:// only for 127.0.0.1 or localhost); got {url!r}"
    )


def _requests_per_minute(spec: ProviderSpec, env: Mapping[str, str]) -> int:
    variable = spec.rate_variable
    raw = env.get(variable, "").strip()
    if not raw:
        return spec.requests_per_minute
    rate = whole_number(raw, max_digits=9)
    if rate is None or rate < 1:
        raise ConfigError(
            f"{variable} must be a whole number of requests per minute, at least 1 and at most 9 digits "
            f"(got {raw[:20]!r})"
        )
    return rate
