"""The ``routerfix`` command line: :func:`main` (``routerfix``, ``python -m routerfix``).

Modules: :mod:`~routerfix.cli.app` (parser, errors, exit codes), :mod:`~routerfix.cli.common` (arguments,
credentials, output), :mod:`~routerfix.cli.commands` (single-device commands), and one module per command family
(:mod:`~routerfix.cli.fleet`, :mod:`~routerfix.cli.probe`, :mod:`~routerfix.cli.detect`,
:mod:`~routerfix.cli.diagnose`), each with a ``register(subparsers)``.
"""

from routerfix.cli.app import build_parser, exit_code_for, main
from routerfix.cli.common import EXIT_CODES

__all__ = ["EXIT_CODES", "build_parser", "exit_code_for", "main"]
