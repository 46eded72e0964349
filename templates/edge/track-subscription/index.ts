// What Supabase deploys: the handler behind Deno.serve (the local server imports handler.ts).
import handler from "./handler.ts";

Deno.serve(handler);
