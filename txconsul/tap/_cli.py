# -*- test-case-name: tests.test_cli_manners -*-
"""
Command-line manners shared by ``twistd consul-watch`` and ``twistd
consul-fake``.

twistd itself answers a :class:`~twisted.python.usage.UsageError` with the
whole help text and exit status 1, and an exception in ``makeService`` or
while starting with a traceback.  These helpers turn every user mistake into
one line on stderr that names the option and the problem, with exit status
2 (as argument errors conventionally have), and let a service end the
process with a chosen status once the reactor has shut down.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any, Callable, NoReturn, Optional

from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger
from twisted.python import usage

log = Logger()

#: Exit status of a user mistake on the command line (as argparse uses).
EXIT_USAGE = 2

#: Exit status of an error met while running (``consul watch`` uses 1).
EXIT_ERROR = 1


def real_stderr() -> IO[str]:
    """
    The process's own stderr: once twistd has started logging it replaces
    ``sys.stderr`` with a file that writes into the log.
    """
    return sys.__stderr__ if sys.__stderr__ is not None else sys.stderr


def error_line(tapname: str, message: str, *, hint: bool = True) -> str:
    """
    The one line a user sees: ``twistd TAP: error: MESSAGE``, and for usage
    mistakes a pointer to ``--help``.  Line breaks in ``message`` are folded
    so that it stays one line.
    """
    text = " ".join(str(message).split())
    line = f"twistd {tapname}: error: {text}"
    if hint:
        line += f" (see 'twistd {tapname} --help')"
    return line + "\n"


def usage_exit(tapname: str, message: str, err: Optional[IO[str]] = None) -> NoReturn:
    """Write the usage error line to ``err`` (stderr) and exit with status 2."""
    stream = err if err is not None else real_stderr()
    stream.write(error_line(tapname, message))
    stream.flush()
    raise SystemExit(EXIT_USAGE)


class CommandOptions(usage.Options):
    """
    :class:`usage.Options` for a twistd plugin.  Parsed by twistd (which sets
    :attr:`parent` to its own options first), a :class:`usage.UsageError`
    becomes one line on stderr and exit status 2 instead of twistd's help
    dump; parsed directly (as tests do), it is raised as usual.

    :cvar tapname: the plugin's name, used in the error line.
    """

    tapname = ""
    parent: Any = None

    def parseOptions(self, options: Optional[list[str]] = None) -> None:
        """Parse ``options``; under twistd, a mistake exits as described above."""
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            if self.parent is None:
                raise
            usage_exit(self.tapname, str(e))

    def twistd_option(self, name: str) -> Any:
        """One of twistd's own options (``pidfile``...), or None when not run by twistd."""
        if self.parent is None:
            return None
        try:
            return self.parent[name]
        except KeyError:
            return None


def remove_own_pidfile(pidfile: Optional[str]) -> None:
    """
    Remove twistd's pid file when it holds this process's id: an exit during
    start-up skips twistd's own clean-up, and a stale pid file would stop
    the next start.
    """
    if not pidfile:
        return
    try:
        with open(pidfile, encoding="ascii") as f:
            mine = f.read().strip() == str(os.getpid())
        if mine:
            os.remove(pidfile)
    except (OSError, ValueError):
        pass


class ExitStatus:
    """
    The exit status a twistd process should end with.  twistd always exits 0
    after a clean shutdown; :meth:`install` adds a trigger that runs once the
    reactor has shut down (services stopped, connections closed) and, when
    :meth:`fail` was called, removes the pid file and ends the process with
    the recorded status.

    :ivar code: the status recorded by :meth:`fail`, or None.
    """

    def __init__(
        self, tapname: str, *, err: Optional[IO[str]] = None, stop: Optional[Callable[[], Any]] = None
    ) -> None:
        self.tapname = tapname
        self.err = err
        self.stop = stop
        self.code: Optional[int] = None

    def fail(self, message: str, code: int = EXIT_ERROR) -> None:
        """Report ``message`` (one line on stderr, and the log), record ``code``, stop."""
        line = error_line(self.tapname, message, hint=False)
        log.error("{line}", line=line.rstrip("\n"))
        stream = self.err if self.err is not None else real_stderr()
        stream.write(line)
        stream.flush()
        if self.code is None:
            self.code = code
        if self.stop is not None:
            self.stop()

    def install(
        self, reactor: IReactorCore, pidfile: Optional[str], exit: Callable[[int], Any] = os._exit
    ) -> None:
        """After the reactor's shutdown, exit with :attr:`code` if one was recorded."""

        def after_shutdown() -> None:
            if self.code is None:
                return
            remove_own_pidfile(pidfile)
            for stream in (sys.__stdout__, sys.__stderr__):
                if stream is not None:
                    stream.flush()
            # twistd would exit 0 from here on: end the process now.
            exit(self.code)

        reactor.addSystemEventTrigger("after", "shutdown", after_shutdown)
