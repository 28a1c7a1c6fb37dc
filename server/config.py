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

from tasklens.tools.providers import ProviderSettings
from tasklens.tools.results.task import PROVIDERS, ProviderName

ANGO_HOSTS = {"eu": "https://imeritapi.ango.ai", "us": "https://us-api.ango.ai", "in": "https://in-api.ango.ai"}
MAXSIGHT_REGIONS = ("us", "eu", "ae")
DEFAULT_REQUESTS_PER_MINUTE: dict[ProviderName, int] = {
    "ango": 100,  # documented Standard-plan limit
    "deepomatic": 600,  # none published; 10/s, far below what the batch poller needs, far above one agent
    "sendai": 120,  # team-level limits, numbers unpublished
    "maxsight": 120,  # none published
}
TRUE_VALUES = ("1", "true", "yes", "on")

# Every variable tasklens reads, for README, manifests and `tasklens doctor` to agree on.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "ANGO_API_KEY": "Ango Hub API key (Hub → Account → API)",
    "ANGO_API_URL": "Ango API host; overrides ANGO_REGION (default https://imeritapi.ango.ai)",
    "ANGO_REGION": "eu, us or in: picks the documented Ango host",
    "ANGO_REQUESTS_PER_MINUTE": "client-side rate limit for Ango (default 100)",
    "DEEPOMATIC_API_KEY": "Deepomatic v0.7 API key",
    "DEEPOMATIC_API_URL": "Deepomatic API host (default https://api.deepomatic.com)",
    "DEEPOMATIC_REQUESTS_PER_MINUTE": "client-side rate limit for Deepomatic (default 600)",
    "SENDAI_API_KEY": "Send.ai API key (added to the project, task.read scope)",
    "SENDAI_API_URL": "Send.ai API host (default https://api.send.ai)",
    "SENDAI_TEAM_ID": "default Send.ai team id (tool arguments override)",
    "SENDAI_PROJECT_ID": "default Send.ai project id (tool arguments override)",
    "SENDAI_REQUESTS_PER_MINUTE": "client-side rate limit for Send.ai (default 120)",
    "MAXSIGHT_API_KEY": "Moody's Maxsight v5 API key",
    "MAXSIGHT_API_URL": "Maxsight API host; overrides MAXSIGHT_REGION",
    "MAXSIGHT_REGION": "us, eu or ae: https://api.{region}.maxsight.com",
    "MAXSIGHT_REQUESTS_PER_MINUTE": "client-side rate limit for Maxsight (default 120)",
    "TASKLENS_SANDBOX": "1 to serve the built-in simulated providers instead (no keys needed)",
    "TASKLENS_LOG_LEVEL": "stderr log level (default INFO)",
    "TASKLENS_HTTP_TOKEN": "HTTP transport only: bearer token every request must carry (16+ visible ASCII characters)",
    "TASKLENS_HTTP_ALLOWED_HOSTS": "HTTP transport only: extra Host values to accept, comma-separated (name or name:port)",
    "TASKLENS_EXPORT_ROOTS": (
        "folders summarize_export may read files from, separated by os.pathsep "
        "(default: the working directory, unless it is / or the home directory)"
    ),
    "TASKLENS_EXPORT_HELPER": "0 to read large local exports in one process (default 1: a helper process shares the work, ~40 MiB more memory)",
}
MIN_TOKEN_LENGTH = 16
_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what an Authorization header can carry verbatim
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
class Config:
    providers: dict[ProviderName, ProviderSettings]
    sandbox: bool = False
    log_level: str = "INFO"
    http_token: str | None = field(default=None, repr=False)  # a secret: never in a repr or a log line
    http_allowed_hosts: tuple[str, ...] = ()
    export_roots: tuple[str, ...] = field(default_factory=default_export_roots)
    export_helper: bool = True


def load_config(env: Mapping[str, str] | None = None, *, sandbox: bool | None = None) -> Config:
    """Read the configuration; `sandbox=True` (or TASKLENS_SANDBOX=1) ignores every real key."""
    env = os.environ if env is None else env
    log_level = env.get("TASKLENS_LOG_LEVEL", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"TASKLENS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR (got {log_level!r})")
    if sandbox is None:
        sandbox = env.get("TASKLENS_SANDBOX", "").strip().lower() in TRUE_VALUES
    http_token = _http_token(env.get("TASKLENS_HTTP_TOKEN", ""))
    allowed_hosts = _allowed_hosts(env.get("TASKLENS_HTTP_ALLOWED_HOSTS", ""))
    roots = _export_roots(env.get("TASKLENS_EXPORT_ROOTS", ""))
    helper = env.get("TASKLENS_EXPORT_HELPER", "1").strip().lower()
    if helper not in TRUE_VALUES and helper not in ("0", "false", "no", "off"):
        raise ConfigError(f"TASKLENS_EXPORT_HELPER must be 1 or 0 (got {helper[:20]!r})")
    providers = {} if sandbox else {name: _provider(name, env) for name in PROVIDERS}
    return Config(
        providers=providers,
        sandbox=sandbox,
        log_level=log_level,
        http_token=http_token,
        http_allowed_hosts=allowed_hosts,
        export_roots=roots,
        export_helper=helper in TRUE_VALUES,
    )


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


def _provider(name: ProviderName, env: Mapping[str, str]) -> ProviderSettings:
    prefix = name.upper()
    key = env.get(f"{prefix}_API_KEY", "").strip() or None
    url = env.get(f"{prefix}_API_URL", "").strip().rstrip("/") or None
    rpm = _requests_per_minute(name, env)
    missing = "" if key else f"set {prefix}_API_KEY"
    defaults: dict[str, str] = {}
    if name == "ango" and url is None:
        region = env.get("ANGO_REGION", "eu").strip().lower() or "eu"
        if region not in ANGO_HOSTS:
            raise ConfigError(f"ANGO_REGION must be eu, us or in (got {region!r})")
        url = ANGO_HOSTS[region]
    elif name == "deepomatic" and url is None:
        url = "https://api.deepomatic.com"
    elif name == "sendai":
        url = url or "https://api.send.ai"
        for field in ("team_id", "project_id"):
            value = env.get(f"SENDAI_{field.upper()}", "").strip()
            if value:
                defaults[field] = value
    elif name == "maxsight" and url is None:
        region = env.get("MAXSIGHT_REGION", "").strip().lower()
        if region and region not in MAXSIGHT_REGIONS:
            raise ConfigError(f"MAXSIGHT_REGION must be us, eu or ae (got {region!r})")
        if region:
            url = f"https://api.{region}.maxsight.com"
        elif key:
            missing = "set MAXSIGHT_REGION (us, eu or ae) or MAXSIGHT_API_URL; a wrong region answers 401"
    if url is not None:
        url = _checked_url(f"{prefix}_API_URL", url)
        if name == "ango" and url.endswith("/v2"):
            url = url[: -len("/v2")]  # the REST docs' server URL includes /v2; tasklens adds it per path
    return ProviderSettings(
        name=name, api_key=key, base_url=url, requests_per_minute=rpm, defaults=defaults, missing=missing
    )


def _checked_url(variable: str, url: str) -> str:
    """https:// anywhere; plain http:// only to this machine (a sandbox), never sending a key in clear."""
    parsed = urlsplit(url)
    if parsed.scheme == "https" and parsed.netloc:
        return url
    if parsed.scheme == "http" and (parsed.hostname or "") in ("127.0.0.1", "localhost", "::1"):
        return url
    raise ConfigError(
        f"{variable} must be an https:// URL (plain http:// only for 127.0.0.1 or localhost); got {url!r}"
    )


def _requests_per_minute(name: ProviderName, env: Mapping[str, str]) -> int:
    variable = f"{name.upper()}_REQUESTS_PER_MINUTE"
    raw = env.get(variable, "").strip()
    if not raw:
        return DEFAULT_REQUESTS_PER_MINUTE[name]
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{variable} must be a whole number of requests per minute, at least 1 (got {raw!r})")
    return int(raw)
