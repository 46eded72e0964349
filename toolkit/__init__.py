"""Roll out the queue-based, presence-driven refresh system onto a Supabase project."""

__version__ = "0.1.0"
