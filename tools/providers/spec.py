"""What tasklens knows about a provider besides its client: variables, hosts, rate limit, sandbox ids.

Each provider module declares one `SPEC`, and `registry.SPECS` lists them. Configuration, the table of
environment variables, `tasklens doctor`, the sandbox wiring and the demo read these specs instead of
naming providers one by one. A spec holds data plus the one hook a provider may need (`api_root`); how
the environment is read stays in `tasklens.server.config`, the same for every provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..results.provider_name import ProviderName
from .base import ProviderClient


def in_words(items: Sequence[str], conjunction: str) -> str:
    """`a, b or c` (or `a, b and c`): a list as a sentence says it."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _unchanged(url: str) -> str:
    return url


@dataclass(frozen=True)
class Regions:
    """The documented API hosts of a provider that has several, one of which `{PREFIX}_REGION` picks."""

    hosts: Mapping[str, str]  # region → API host, in the order messages list them
    description: str  # the region variable's line in the table of environment variables

    @property
    def choices(self) -> str:
        return in_words(list(self.hosts), "or")


@dataclass(frozen=True)
class DefaultArgument:
    """A `{PREFIX}_{FIELD}` variable whose value is the default of the tool argument `field`."""

    field: str  # e.g. "team_id"; the value lands in `ProviderSettings.defaults[field]`
    description: str


@dataclass(frozen=True)
class ProviderSpec:
    """One provider as configuration, `tasklens doctor` and the sandbox wiring see it."""

    name: ProviderName
    label: str  # the product's full name for people ("Ango Hub"); `client.label` is the short one
    client: type[ProviderClient]
    env_prefix: str  # ANGO → ANGO_API_KEY, ANGO_API_URL, ANGO_REQUESTS_PER_MINUTE, …
    key_description: str  # where the key comes from, for the table of environment variables
    requests_per_minute: int  # the client-side limit when {PREFIX}_REQUESTS_PER_MINUTE is not set
    default_url: str | None = None  # the API host when neither {PREFIX}_API_URL nor a region is set
    regions: Regions | None = None
    # Why a key alone is not enough, for a provider with no default host (it names what to set).
    unlocated: str = ""
    defaults: tuple[DefaultArgument, ...] = ()
    sandbox_defaults: Mapping[str, str] = field(default_factory=dict)  # tool-argument defaults for its sandbox
    # The base URL the client builds its paths on, from the configured (checked, slash-trimmed) one.
    api_root: Callable[[str], str] = _unchanged

    def __post_init__(self) -> None:
        if self.default_url is None and not self.unlocated:
            raise ValueError(f"{self.name}: a provider without a default host needs the `unlocated` sentence")
        unknown = set(self.sandbox_defaults) - {argument.field for argument in self.defaults}
        if unknown:
            raise ValueError(f"{self.name}: sandbox defaults for arguments it has no variable for: {unknown}")

    def variable(self, suffix: str) -> str:
        return f"{self.env_prefix}_{suffix}"

    @property
    def key_variable(self) -> str:
        return self.variable("API_KEY")

    @property
    def url_variable(self) -> str:
        return self.variable("API_URL")

    @property
    def region_variable(self) -> str:
        return self.variable("REGION")

    @property
    def rate_variable(self) -> str:
        return self.variable("REQUESTS_PER_MINUTE")

    def default_variable(self, argument: str) -> str:
        """The variable holding the default of the tool argument `argument` (e.g. SENDAI_TEAM_ID)."""
        return self.variable(argument.upper())

    @property
    def location_variables(self) -> tuple[str, ...]:
        """The variables that choose where the API is: its URL, and its region where it has one."""
        return (self.url_variable, self.region_variable) if self.regions else (self.url_variable,)

    def environment_variables(self) -> dict[str, str]:
        """Every variable this provider reads, with its one line of description, in the order people read them."""
        host = f"{self.client.label} API host"
        if self.regions:
            host += f"; overrides {self.region_variable}"
        if self.default_url:
            host += f" (default {self.default_url})"
        variables = {self.key_variable: self.key_description, self.url_variable: host}
        if self.regions:
            variables[self.region_variable] = self.regions.description
        for argument in self.defaults:
            variables[self.default_variable(argument.field)] = argument.description
        variables[self.rate_variable] = (
            f"client-side rate limit for {self.client.label} (default {self.requests_per_minute})"
        )
        return variables
