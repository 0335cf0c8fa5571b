"""The Vyatta-family engine VyOS and EdgeOS share: the ``set``-command configuration tree, the configure →
commit → save → exit cycle, and the parsers of the tables both print. Not a driver itself; each vendor package
(:mod:`routerfix.drivers.vyos`, :mod:`routerfix.drivers.edgeos`) is a dialect over it."""
