"""The API-token options every subcommand that speaks to a fake shares: ``--api-token``, ``--api-token-file`` and
the environment variable ``DURABLETASK_TESTING_API_TOKEN``, read by the shell's one reader (``resolve_token``).

``serve`` requires the token it reads on every call; ``export`` sends it (gRPC ``authorization`` metadata, HTTP
``Authorization`` header).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..shell import TOKEN_ENV_VAR, resolve_token


def add_token_options(parser: argparse.ArgumentParser, use: str) -> None:
    """Add ``--api-token`` and ``--api-token-file``; ``use`` says what the token is for (``require ... on every
    call``, ``send ...``), completing "TOKEN" in the help text."""
    parser.add_argument(
        "--api-token",
        default=None,
        metavar="TOKEN",
        help=f"{use}. Other local users can read a command line: prefer --api-token-file or the environment "
        f"variable {TOKEN_ENV_VAR} (default: no token)",
    )
    parser.add_argument(
        "--api-token-file",
        default=None,
        metavar="PATH",
        help="read the API token from this file (surrounding whitespace ignored; keep it chmod 600) "
        f"(default: --api-token, else ${TOKEN_ENV_VAR} if set, else no token)",
    )


def token_of(args: argparse.Namespace) -> str | None:
    """The token the options or the environment give (None: none given); prints the reader's warning, if any.
    Raises ``TokenError`` (a ValueError) when the source is ambiguous, unreadable or the token unusable."""
    token, warning = resolve_token(args.api_token, args.api_token_file, os.environ)
    if warning is not None:
        print(f"warning: {warning}", file=sys.stderr)
    return token
