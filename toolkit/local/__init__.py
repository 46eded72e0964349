"""The embedded local target: a private PostgreSQL cluster with a Supabase compatibility layer."""
