# Copyright: (c) 2026, routerfix developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)
# SPDX-License-Identifier: MIT


class ModuleDocFragment:
    """Connection options shared by every routerfix module."""

    DOCUMENTATION = r"""
options:
  driver:
    description:
      - The routerfix driver for the device (C(routerfix drivers) lists them), for example C(netgear),
        C(mikrotik) or C(memory) (a simulated router for tests and demos).
    type: str
    required: true
  host:
    description:
      - "Address or name of the router. The module runs on the controller (C(connection: local) or
        C(delegate_to: localhost)) and connects to this address itself."
    type: str
    required: true
  username:
    description:
      - Login name, where the device has one.
    type: str
  password:
    description:
      - Login password. Never logged or returned.
      - If neither this nor I(password_file) is set, the environment variable C(ROUTERFIX_PASSWORD) is used.
    type: str
  password_file:
    description:
      - File holding only the password (one trailing newline is dropped), instead of I(password). A file
        other users can read is used, with a warning in the log.
    type: path
  port:
    description:
      - TCP port, if not the driver's default.
    type: int
  timeout:
    description:
      - Connect and read timeout in seconds.
    type: float
  driver_options:
    description:
      - The driver's own options (for example C(tls_fingerprint) or C(known_hosts)), see the driver's
        documentation. For the C(memory) driver, C(scenario) and C(state_file).
    type: dict
    default: {}
  driver_secrets:
    description:
      - Driver options that are secrets (C(key_passphrase), C(enable_secret), tokens). Merged into
        I(driver_options) as text (a number such as C(123456) is its digits) and never logged or returned.
    type: dict
requirements:
  - routerfix (installed in the Python that runs the module, usually the controller's)
notes:
  - Set the connection options once for every routerfix module with
    C(module_defaults) and the action group C(group/routerfix.routerfix.routerfix).
  - "Modules talk to the router from the machine they run on; run them with C(connection: local) or
    C(delegate_to: localhost)."
"""
