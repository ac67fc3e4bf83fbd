"""The command line's development commands, and where they meet the development tools.

The local Kafka launcher (``orderflow.broker``), the payment provider simulator
(``orderflow.simulator``) and the benchmark (``orderflow.bench``) are the
distribution orderflow-devtools (devtools/pyproject.toml): a checkout's
``make install`` installs it, the production image does not. Consumes only
importlib; owns the commands that need those packages: ``DevCommand`` (hidden
from ``--help`` where they are missing, and a clear error if run there) and
``LazyCommand`` (also imported only when it runs, so ``orderflow --help``
never loads the benchmark with its plotting and profiling libraries).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

__all__ = ["DISTRIBUTION", "PACKAGES", "DevCommand", "LazyCommand", "installed", "require"]

DISTRIBUTION = "orderflow-devtools"
PACKAGES = ("orderflow.bench", "orderflow.broker", "orderflow.simulator")


def installed() -> bool:
    """Whether the development tools can be imported (without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in PACKAGES)


def require(command: str) -> None:
    """Fail ``command`` with a message that says what is missing and why."""
    if not installed():
        raise click.ClickException(
            f"'{command}' is a development tool, in the distribution {DISTRIBUTION}, which this installation "
            f"lacks (the production image carries only the service); in a checkout `make install` installs it")


class DevCommand(click.Command):
    """A command that runs the development tools."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["hidden"] = not installed()
        super().__init__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        require(ctx.command_path)
        return super().invoke(ctx)


class LazyCommand(DevCommand):
    """A development command listed by name and help, imported when it runs.

    Group.invoke asks the command it resolved for a context and then invokes
    that context's command, so handing back the real command's context is
    all it takes for the real command (with its options and subcommands) to
    parse, show its own --help and run."""

    def __init__(self, name: str, target: str, help_text: str) -> None:
        super().__init__(name, help=help_text)
        self._target = target  # "module:attribute"

    def load(self) -> click.Command:
        module, attribute = self._target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self._target} is not a click command")
        return command

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        require(f"{parent.command_path} {info_name}" if parent else str(info_name))
        return self.load().make_context(info_name, args, parent=parent, **extra)
