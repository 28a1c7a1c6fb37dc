"""The provider registry is the one list of providers: the name Literal, the clients and the sandbox agree with it."""

from __future__ import annotations

from typing import get_args

import pytest

from tasklens.server.sandbox import CATALOG, SANDBOX_KEYS, Sandbox
from tasklens.tools.providers import CLIENT_CLASSES, PROVIDERS, SPECS, ProviderSpec
from tasklens.tools.providers.deepomatic import DeepomaticClient
from tasklens.tools.results.provider_name import ProviderName


def test_the_provider_name_literal_is_the_registry_in_order() -> None:
    assert get_args(ProviderName) == PROVIDERS


def test_each_spec_is_its_clients_and_has_a_prefix_of_its_own() -> None:
    for spec in SPECS:
        assert spec.client.name == spec.name
        assert CLIENT_CLASSES[spec.name] is spec.client
    prefixes = [spec.env_prefix for spec in SPECS]
    assert len(set(prefixes)) == len(prefixes)


def test_the_sandbox_serves_every_registered_provider_and_no_other() -> None:
    assert tuple(SANDBOX_KEYS) == PROVIDERS
    sandbox = Sandbox()
    for name in PROVIDERS:
        assert sandbox.base_url(name).endswith(f"/{name}")  # raises for a provider it does not serve
    assert {entry.provider for entry in CATALOG} == set(PROVIDERS)


def test_sandbox_defaults_address_seeded_tasks() -> None:
    for spec in SPECS:
        if spec.sandbox_defaults:
            assert any(
                entry.provider == spec.name
                and all(getattr(entry, field, None) == value for field, value in spec.sandbox_defaults.items())
                for entry in CATALOG
            ), spec.name


def test_a_spec_without_a_default_host_must_say_what_to_set() -> None:
    with pytest.raises(ValueError, match="unlocated"):
        ProviderSpec(
            name="deepomatic",
            label="Deepomatic",
            client=DeepomaticClient,
            env_prefix="DEEPOMATIC",
            key_description="a key",
            requests_per_minute=60,
        )
