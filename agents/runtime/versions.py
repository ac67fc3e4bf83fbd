"""The faust-streaming, mode-streaming and aiokafka versions the runtime's
repairs were written against and tested with.

The repairs reach into those libraries' internals (Faust's consumer acks,
producer buffer, recovery and RocksDB store; aiokafka's fetch requests), which
change without notice between releases, so a worker refuses to start on any
other version with an error that says which, rather than run with a repair
that silently no longer applies. Raise a pin only after the fault suite
passes on the new version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import metadata

__all__ = ["PINNED", "UnsupportedVersion", "check_versions"]

PINNED: Mapping[str, str] = {
    "faust-streaming": "0.15.3",
    "mode-streaming": "0.7.1",
    "aiokafka": "0.14.0",
}


class UnsupportedVersion(RuntimeError):
    """An installed library is not the version the runtime was written against."""


def check_versions(installed: Callable[[str], str] = metadata.version) -> None:
    """Raise UnsupportedVersion naming every library whose installed version is not the pinned one."""
    wrong = []
    for name, pinned in PINNED.items():
        try:
            found = installed(name)
        except metadata.PackageNotFoundError:
            found = "not installed"
        if found != pinned:
            wrong.append(f"{name} {found} (the runtime is written against {pinned})")
    if wrong:
        raise UnsupportedVersion("orderflow's Faust runtime does not support " + "; ".join(wrong)
                                 + ": install with `-c constraints.txt`")
