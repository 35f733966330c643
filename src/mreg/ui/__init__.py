"""The page: a read-only view of the registry in a browser (``mreg ui serve``) or as static files
(``mreg ui export``). docs/ui.md describes the pages, their URLs and the security model.

Imported only by ``mreg ui``: no other command pays for Jinja2 or markdown-it-py
(tests/test_ui_imports.py)."""
