"""AT&T BGW210/BGW320 gateways: the bridge-mode / IP Passthrough verdict, and ``set_ip_passthrough(mac)``."""

from .driver import AttGatewayDriver

__all__ = ["AttGatewayDriver"]
