"""The four providers' wire protocols; importing this package registers their routes."""

from collections.abc import Callable
from typing import Any

from providers.simulator.protocols import fw199, gateway, sjroom, tencent

# provider name -> builds the uplink payload that provider pushes, from /_sim/uplink's body.
UPLINK_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "tencent": tencent.make_uplink,
    "gateway": gateway.make_uplink,
}

__all__ = ["UPLINK_BUILDERS", "fw199", "gateway", "sjroom", "tencent"]
