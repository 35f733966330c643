"""The ``mreg`` command's entry point. Its first lines make Ctrl-C end the process with one line
``error: interrupted`` and exit code 130 from the first instant, while Python is still importing
the command line (a KeyboardInterrupt there would print a traceback). Nothing is written to the
store before a command runs, so ending at once is safe; while a command runs, ``interruptible``
lets Ctrl-C raise KeyboardInterrupt so that the command unwinds (lock released, temporary files
removed) and the error funnel reports it.
"""

from mreg.cli.interrupt import install

install()


def main() -> None:
    from mreg.cli.fastpath import main as run

    run()
