"""Configuration from the environment: defaults, regions, overrides, and refusing unusable values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from support.paths import ROOT
from tasklens.server.config import ENVIRONMENT_VARIABLES, ConfigError, load_config
from tasklens.tools.providers import SPECS


def test_nothing_set_means_nothing_configured_with_a_reason_per_provider() -> None:
    config = load_config({})
    assert not config.sandbox
    for name, settings in config.providers.items():
        assert not settings.configured
        assert f"{name.upper()}_API_KEY" in settings.missing


def test_documented_default_hosts_and_region_shortcuts() -> None:
    config = load_config({"ANGO_API_KEY": "k", "DEEPOMATIC_API_KEY": "k", "SENDAI_API_KEY": "k"})
    assert config.providers["ango"].base_url == "https://imeritapi.ango.ai"
    assert config.providers["deepomatic"].base_url == "https://api.deepomatic.com"
    assert config.providers["sendai"].base_url == "https://api.send.ai"
    assert load_config({"ANGO_REGION": "us"}).providers["ango"].base_url == "https://us-api.ango.ai"
    assert load_config({"ANGO_REGION": "in"}).providers["ango"].base_url == "https://in-api.ango.ai"
    maxsight = load_config({"MAXSIGHT_API_KEY": "k", "MAXSIGHT_REGION": "ae"}).providers["maxsight"]
    assert maxsight.configured and maxsight.base_url == "https://api.ae.maxsight.com"


def test_url_overrides_region_and_trailing_slash_is_dropped() -> None:
    env = {"ANGO_API_KEY": "k", "ANGO_REGION": "us", "ANGO_API_URL": "https://example.test/ango/"}
    assert load_config(env).providers["ango"].base_url == "https://example.test/ango"


def test_ango_url_copied_from_the_rest_docs_loses_its_v2() -> None:
    env = {"ANGO_API_KEY": "k", "ANGO_API_URL": "https://example.test/v2/"}
    assert load_config(env).providers["ango"].base_url == "https://example.test"


def test_maxsight_key_without_region_says_what_to_set() -> None:
    settings = load_config({"MAXSIGHT_API_KEY": "k"}).providers["maxsight"]
    assert not settings.configured
    assert "MAXSIGHT_REGION" in settings.missing and "401" in settings.missing


def test_sendai_defaults_and_rate_limits() -> None:
    env = {"SENDAI_API_KEY": "k", "SENDAI_TEAM_ID": "t1", "SENDAI_PROJECT_ID": "p1", "SENDAI_REQUESTS_PER_MINUTE": "30"}
    settings = load_config(env).providers["sendai"]
    assert dict(settings.defaults) == {"team_id": "t1", "project_id": "p1"}
    assert settings.requests_per_minute == 30
    assert load_config({}).providers["ango"].requests_per_minute == 100


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"ANGO_REGION": "mars"}, "ANGO_REGION"),
        ({"MAXSIGHT_REGION": "uk"}, "MAXSIGHT_REGION"),
        ({"ANGO_REQUESTS_PER_MINUTE": "fast"}, "ANGO_REQUESTS_PER_MINUTE"),
        ({"DEEPOMATIC_REQUESTS_PER_MINUTE": "0"}, "DEEPOMATIC_REQUESTS_PER_MINUTE"),
        ({"DEEPOMATIC_REQUESTS_PER_MINUTE": "²"}, "DEEPOMATIC_REQUESTS_PER_MINUTE"),  # isdigit() yes, int() no
        ({"SENDAI_REQUESTS_PER_MINUTE": "9" * 5000}, "SENDAI_REQUESTS_PER_MINUTE"),  # past int()'s 4,300 digits
        ({"DEEPOMATIC_API_URL": "ftp://x"}, "DEEPOMATIC_API_URL"),
        ({"TASKLENS_LOG_LEVEL": "loud"}, "TASKLENS_LOG_LEVEL"),
    ],
)
def test_unusable_values_stop_startup_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_config(env)


def test_sandbox_switch_ignores_real_keys() -> None:
    config = load_config({"TASKLENS_SANDBOX": "1", "ANGO_API_KEY": "real-key"})
    assert config.sandbox and config.providers == {}


class RecordingEnvironment(Mapping[str, str]):
    """An environment that remembers every variable looked up in it, set or not."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("configuration looks variables up by name; it never lists the environment")

    def __len__(self) -> int:
        return len(self.values)


def test_every_variable_read_is_documented_and_every_documented_one_is_read() -> None:
    read: set[str] = set()
    # Nothing set (regions and default hosts looked up), then every key and URL set (no region lookups).
    urls = {spec.url_variable: "https://api.example.test" for spec in SPECS}
    for values in ({}, {**{spec.key_variable: "k" for spec in SPECS}, **urls}):
        env = RecordingEnvironment(values)
        load_config(env)
        read |= env.read
    assert read == set(ENVIRONMENT_VARIABLES), read ^ set(ENVIRONMENT_VARIABLES)


def test_http_token_and_allowed_hosts() -> None:
    token = "0123456789abcdefXYZ"
    config = load_config(
        {"TASKLENS_HTTP_TOKEN": f" {token} ", "TASKLENS_HTTP_ALLOWED_HOSTS": "MCP.example.com, 10.0.0.5:8765"}
    )
    assert config.http_token == token and token not in repr(config)
    assert config.http_allowed_hosts == ("mcp.example.com", "10.0.0.5:8765")
    assert load_config({}).http_token is None
    assert load_config({"TASKLENS_HTTP_TOKEN": token}, sandbox=True).http_token == token  # sandbox keeps it


@pytest.mark.parametrize("token", ["short", "has a space in it 123", "ünïcode-token-0123456"])
def test_unusable_http_token_stops_startup_without_quoting_it(token: str) -> None:
    with pytest.raises(ConfigError, match="TASKLENS_HTTP_TOKEN") as caught:
        load_config({"TASKLENS_HTTP_TOKEN": token})
    assert token not in str(caught.value)


@pytest.mark.parametrize("hosts", ["http://x.example", "x.example/mcp", "a b", "x.example:port", "user@x.example"])
def test_unusable_allowed_hosts_stop_startup(hosts: str) -> None:
    with pytest.raises(ConfigError, match="TASKLENS_HTTP_ALLOWED_HOSTS"):
        load_config({"TASKLENS_HTTP_ALLOWED_HOSTS": hosts})


def test_every_variable_is_in_the_readme_tables_and_every_listed_one_exists() -> None:
    import re

    readme = (ROOT / "README.md").read_text()
    configuration = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])(?:=[^`]*)?`", configuration))
    assert set(ENVIRONMENT_VARIABLES) <= listed, set(ENVIRONMENT_VARIABLES) - listed
    assert listed <= set(ENVIRONMENT_VARIABLES), listed - set(ENVIRONMENT_VARIABLES)


def test_export_roots_default_to_the_working_directory_and_must_exist(tmp_path) -> None:  # noqa: ANN001
    import os

    assert load_config({}).export_roots == (os.getcwd(),)
    other = tmp_path / "exports"
    other.mkdir()
    roots = load_config({"TASKLENS_EXPORT_ROOTS": f"{tmp_path}{os.pathsep}{other}"}).export_roots
    assert roots == (os.path.realpath(tmp_path), os.path.realpath(other))
    with pytest.raises(ConfigError, match="TASKLENS_EXPORT_ROOTS"):
        load_config({"TASKLENS_EXPORT_ROOTS": str(tmp_path / "missing")})


def test_oauth_settings_from_the_environment() -> None:
    assert load_config({}).oauth is None
    issuer = "https://login.example.com/tenant/"  # kept exactly: a token's iss is compared character for character
    oauth = load_config({"TASKLENS_OAUTH_ISSUER": f" {issuer} ", "TASKLENS_OAUTH_AUDIENCE": "api://tasklens"}).oauth
    assert oauth is not None and (oauth.issuer, oauth.audience) == (issuer, "api://tasklens")
    assert (oauth.scopes, oauth.jwks_url, oauth.resource) == (("tasklens:read",), None, None)
    oauth = load_config(
        {
            "TASKLENS_OAUTH_ISSUER": "http://127.0.0.1:9000",  # plain http only to this machine
            "TASKLENS_OAUTH_AUDIENCE": "tasklens",
            "TASKLENS_OAUTH_SCOPES": "tasklens:read, tasks.read  tasklens:read",
            "TASKLENS_OAUTH_JWKS_URL": "http://localhost:9000/keys",
            "TASKLENS_OAUTH_RESOURCE": "https://mcp.example.com/mcp",
        },
        sandbox=True,
    ).oauth
    assert oauth is not None and oauth.scopes == ("tasklens:read", "tasks.read")
    assert (oauth.jwks_url, oauth.resource) == ("http://localhost:9000/keys", "https://mcp.example.com/mcp")


ISSUER = {"TASKLENS_OAUTH_ISSUER": "https://idp.example.com", "TASKLENS_OAUTH_AUDIENCE": "tasklens"}


@pytest.mark.parametrize(
    "env, sentence",
    [
        ({**ISSUER, "TASKLENS_HTTP_TOKEN": "0123456789abcdefXYZ"}, "TASKLENS_OAUTH_ISSUER and TASKLENS_HTTP_TOKEN are"),
        ({"TASKLENS_OAUTH_ISSUER": "https://idp.example.com"}, "TASKLENS_OAUTH_AUDIENCE must be set with"),
        ({"TASKLENS_OAUTH_AUDIENCE": "tasklens"}, "TASKLENS_OAUTH_AUDIENCE is set but TASKLENS_OAUTH_ISSUER is not"),
        ({"TASKLENS_OAUTH_SCOPES": "tasklens:read"}, "TASKLENS_OAUTH_SCOPES is set but TASKLENS_OAUTH_ISSUER is not"),
        ({**ISSUER, "TASKLENS_OAUTH_ISSUER": "http://idp.example.com"}, "TASKLENS_OAUTH_ISSUER must be an https://"),
        ({**ISSUER, "TASKLENS_OAUTH_ISSUER": "https://idp.example.com/?x=1"}, "TASKLENS_OAUTH_ISSUER must be a plain"),
        ({**ISSUER, "TASKLENS_OAUTH_JWKS_URL": "ftp://idp.example.com/keys"}, "TASKLENS_OAUTH_JWKS_URL must be an"),
        ({**ISSUER, "TASKLENS_OAUTH_RESOURCE": 'https://x.example/"mcp'}, "TASKLENS_OAUTH_RESOURCE must be a plain"),
        ({**ISSUER, "TASKLENS_OAUTH_RESOURCE": "https://x.example/mcp#a"}, "TASKLENS_OAUTH_RESOURCE must be a plain"),
        ({**ISSUER, "TASKLENS_OAUTH_AUDIENCE": "two words"}, "TASKLENS_OAUTH_AUDIENCE must be at most 512"),
        ({**ISSUER, "TASKLENS_OAUTH_SCOPES": 'read "all"'}, "TASKLENS_OAUTH_SCOPES must be scope names"),
    ],
)
def test_unusable_oauth_settings_stop_startup_with_one_sentence(env: dict[str, str], sentence: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    assert str(caught.value).startswith(sentence) and "\n" not in str(caught.value)


def test_team_settings_from_the_environment_and_their_errors_in_one_sentence() -> None:
    config = load_config(
        {"TASKLENS_REDIS_URL": "redis://:s3cret-pass@redis:6379/2", "TASKLENS_REPLICAS": "3"}, sandbox=True
    )
    assert (config.redis_url, config.replicas, config.sandbox_url) == ("redis://:s3cret-pass@redis:6379/2", 3, None)
    assert "s3cret" not in repr(config)
    assert load_config({"TASKLENS_SANDBOX_URL": "http://sandbox:8800/"}).sandbox_url == "http://sandbox:8800"
    for variable, value in (
        ("TASKLENS_REDIS_URL", "http://:s3cret-pass@redis:6379"),
        ("TASKLENS_REPLICAS", "0"),
        ("TASKLENS_REPLICAS", "three"),
        ("TASKLENS_SANDBOX_URL", "http://sandbox:8800/ango"),
        ("TASKLENS_SANDBOX_URL", "sandbox:8800"),
    ):
        with pytest.raises(ConfigError, match=variable) as refused:
            load_config({variable: value})
        assert "s3cret" not in str(refused.value) and "\n" not in str(refused.value)
