"""PROGRESS.md: the user's rollout document, kept true by the toolkit."""
