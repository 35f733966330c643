"""``python -m mreg``: the same as the ``mreg`` command."""

from mreg.cli.entry import main

main()
