"""Built-in routerfix drivers, installed as ``routerfix.drivers`` and found through the
``routerfix.drivers`` entry-point group like any third-party plugin."""
