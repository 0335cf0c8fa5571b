"""Transports below the driver contract (none of them imports ``routerfix.driver``). No vendor names here.

``ssh`` (the netmiko login and the command loop), ``ssh_trust`` (host keys, known_hosts), ``http`` (the HTTP
session), ``html`` (pages and forms), ``tls`` (HTTP options, certificate pinning). Driver bases that use them:
:mod:`routerfix.base`."""
