"""The providers' names as one `Literal`, the type tool arguments and results are declared with.

It is written out because a type checker cannot read a `Literal` built at run time; the provider
registry (`tasklens.tools.providers.registry.SPECS`) is the list everything else derives from, and a
test keeps the two equal, in order. It lives apart from the registry because result models and
provider modules both need it, and the registry imports the provider modules.
"""

from typing import Literal

ProviderName = Literal["ango", "deepomatic", "sendai", "maxsight"]
