"""The ``voiceguide`` command: its group, which turns errors into messages and exit codes, and its commands.

Each command (in the modules beside this one) parses options and calls one core function; errors
reach the user only through ``Group.invoke`` here, or ``report`` for a batch that goes on.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import click

from voiceguide import __version__
from voiceguide.cli.report import error_text
from voiceguide.errors import Stopped, VoiceguideError

# Each command by name, from the module that defines it: imported only when that command runs (or
# help lists them), so `render` does not pay for the imports of `serve` or `publish`.
COMMANDS = {
    "render": "render:render_command",
    "plan": "render:plan_command",
    "validate": "render:validate_command",
    "handout": "handout:handout_command",
    "info": "render:info_command",
    "voices": "voices:voices_command",
    "cache": "voices:cache_group",
    "schema": "author:schema_command",
    "new": "author:new_command",
    "docs": "author:docs_command",
    "publish": "publish:publish_command",
    "serve": "publish:serve_command",
}


class Group(click.Group):
    """Turns voiceguide's errors into messages and exit codes; never a traceback. Commands load on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, name = COMMANDS[cmd_name].split(":")
        command = getattr(importlib.import_module(f"voiceguide.cli.{module}"), name)
        assert isinstance(command, click.Command)
        assert command.name == cmd_name
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VoiceguideError as err:
            click.echo(error_text(err), err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt as err:
            signum = err.signum if isinstance(err, Stopped) else signal.SIGINT
            name = signal.Signals(signum).name
            what = "Interrupted" if signum == signal.SIGINT else f"Stopped by {name}"
            with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
                click.echo(f"{what}; no partial file was left behind.", err=True)
            ctx.exit(128 + signum)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        with stop_signals_interrupt():
            return super().main(*args, **kwargs)


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM (`timeout`, `systemctl stop`, `docker stop`) and SIGHUP (a closed terminal) raise
    ``Stopped``, so they stop voiceguide as Ctrl-C does; a repeat of either is ignored while
    it cleans up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="voiceguide")
def cli() -> None:
    """Turn a written routine (YAML) into a voice-guided MP3 with exactly timed holds.

    \b
    Examples:
      voiceguide new my-routine.yaml
      voiceguide render my-routine.yaml
      voiceguide plan my-routine.yaml
      voiceguide validate routines/

    The routine format, every field explained: voiceguide docs (one field:
    voiceguide docs cues).
    """
