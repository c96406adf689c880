"""A FUSE filesystem for power-cut tests: writes pass through to a backing directory only when
fsynced; a power cut throws away everything else (testbed/powercut/fs.py). `PowerCutMount` runs
it as a process and drives it."""

from testbed.powercut.mount import PowerCutMount

__all__ = ["PowerCutMount"]
