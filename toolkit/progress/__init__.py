"""PROGRESS.md: the user's rollout document, kept true by the toolkit: read as it is, rewritten
only where the toolkit owns it, written atomically. Never a source of truth about the database
(the ledger is), and never written by anything but the user's own commands."""
