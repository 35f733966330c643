"""``python -m mreg``: the same as the ``mreg`` command."""

from mreg.cli.app import main

main()
