"""`edge-agent hash-password`: the hash for `[diagnostics] password_hash`, printed once."""

from __future__ import annotations

import getpass
import sys

from edge.diagnostics.password import hash_password

EXIT_REFUSED = 2


def hash_password_command() -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("password for the installer's page: ")
        if getpass.getpass("again: ") != password:
            print("edge-agent hash-password: the two passwords differ", file=sys.stderr)
            return EXIT_REFUSED
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_password(password))
    except ValueError as exc:
        print(f"edge-agent hash-password: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return 0
