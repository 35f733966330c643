"""Remotes: where a team's model objects live (docs/remotes.md). Imported only by the commands
and methods that touch a remote, so that no other command loads fsspec."""
