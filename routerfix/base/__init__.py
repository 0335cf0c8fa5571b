"""Driver bases: :class:`routerfix.base.ssh.SSHDriver` (a CLI over SSH) and :class:`routerfix.base.web.WebDriver`
(a web GUI or HTTP API). Import the one you need from its module: each pulls in its transport (paramiko, requests)
only when imported, so ``import routerfix`` stays light."""
