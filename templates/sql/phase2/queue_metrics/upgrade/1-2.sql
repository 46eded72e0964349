-- Revision 2: the metrics views run with the rights of whoever reads them, not their owner's.
ALTER VIEW public.queue_depth{{ suffix }} SET (security_invoker = true);
ALTER VIEW public.queue_metrics{{ suffix }} SET (security_invoker = true);
