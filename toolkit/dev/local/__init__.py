"""LOCAL ONLY: the embedded target, a private PostgreSQL cluster on 127.0.0.1 built with the
Supabase compatibility layer. Never run any of it against a hosted project, whose roles,
auth schema and Vault are real."""
