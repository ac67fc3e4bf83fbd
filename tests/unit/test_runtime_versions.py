"""The runtime refuses a Faust, mode or aiokafka other than the ones its
repairs were written against, naming what it found."""

from __future__ import annotations

from importlib import metadata

import pytest

from orderflow.agents.runtime.versions import PINNED, UnsupportedVersion, check_versions


def test_the_pinned_versions_are_what_is_installed():
    check_versions()


def test_constraints_pin_the_same_versions():
    from pathlib import Path

    pins = dict(line.split("==") for line in (Path(__file__).resolve().parents[2] / "constraints.txt")
                .read_text().splitlines() if "==" in line)
    assert {name: pins[name] for name in PINNED} == dict(PINNED)


def test_another_faust_is_refused_by_name():
    def installed(name: str) -> str:
        return "0.16.0" if name == "faust-streaming" else PINNED[name]

    expected = r"faust-streaming 0\.16\.0 \(the runtime is written against 0\.15\.3\)"
    with pytest.raises(UnsupportedVersion, match=expected):
        check_versions(installed)


def test_a_missing_library_is_refused():
    def installed(name: str) -> str:
        if name == "aiokafka":
            raise metadata.PackageNotFoundError(name)
        return PINNED[name]

    with pytest.raises(UnsupportedVersion, match="aiokafka not installed"):
        check_versions(installed)
