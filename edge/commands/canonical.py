"""The canonical JSON a command's signature covers (contract section 3)."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(obj: Any) -> bytes:
    """Keys sorted, no whitespace, UTF-8 (not \\u escapes): the bytes the signature covers.

    Raises ValueError for what has no canonical form (a string with a lone surrogate) and
    TypeError for what is not JSON at all.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()
