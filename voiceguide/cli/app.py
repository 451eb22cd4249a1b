"""The ``voiceguide`` command: its group, which turns errors into messages and exit codes, and its commands.

Each command (in the modules beside this one) parses options and calls one core function; errors
reach the user only through ``Group.invoke`` here, or ``report`` for a batch that goes on.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import click

from voiceguide import __version__
from voiceguide.cli.author import docs_command, new_command, schema_command
from voiceguide.cli.handout import handout_command
from voiceguide.cli.publish import publish_command, serve_command
from voiceguide.cli.render import info_command, plan_command, render_command, validate_command
from voiceguide.cli.report import error_text
from voiceguide.cli.voices import cache_group, voices_command
from voiceguide.errors import Stopped, VoiceguideError


class Group(click.Group):
    """Turns voiceguide's errors into messages and exit codes; never a traceback."""

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


for command in (
    render_command,
    plan_command,
    validate_command,
    handout_command,
    info_command,
    voices_command,
    cache_group,
    schema_command,
    new_command,
    docs_command,
    publish_command,
    serve_command,
):
    cli.add_command(command)
