"""LOCAL ONLY: everything that exists to imitate a hosted Supabase project on this machine.

The embedded cluster with the hosted role model (`local/`), the sandbox market-data API
(`sandbox/`), the functions gateway that serves the Edge Functions as Supabase's does
(`gateway/`), local JWTs, the helpers that start and watch these servers, and the demo.
Nothing here may ever be pointed at a hosted project: the code in `toolkit/` (plan, render,
engine, ledger, flags, migration, checklists, progress, queue operations) is what talks to one.
"""
