"""The command line: one small Typer app per noun, joined in ``app.py``.

Commands parse, make one call into ``mreg.Registry``, and hand the result to ``output``; Rich is
imported only by ``render`` and only when something is drawn on a terminal.
"""
