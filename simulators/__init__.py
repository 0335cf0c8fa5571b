"""routerfix's built-in simulated routers, one subpackage per driver (installed as ``routerfix.simulators``).

Each subpackage exports ``simulate`` and registers it in the entry-point group ``routerfix.simulators``;
:func:`routerfix.simulate.simulate` finds and starts them. The SSH and HTTP hosting they share is in
:mod:`._hosts`. A simulator models the device from its fact table (``docs/facts/<driver>.md``), never from the
driver.
"""
