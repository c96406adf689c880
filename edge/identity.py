"""Who a box is (contract section 1): its kind and its device id."""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator

BoxKind = Literal["vehicle", "cabinet", "parking"]
BOX_KINDS: tuple[BoxKind, ...] = get_args(BoxKind)

_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


def _check_device_id(value: str) -> str:
    if not _DEVICE_ID.fullmatch(value):
        raise ValueError("must be 1 to 64 of A-Z a-z 0-9 _ -")
    return value


# Contract section 1. The command envelope's `device_id` has the same shape.
DeviceId = Annotated[str, AfterValidator(_check_device_id)]
