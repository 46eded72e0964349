-- Revision 4: the loop starts a continuous run while the call budget is spent (the run waits
-- for calls as the window frees them); only a spent byte budget holds it back. Only the
-- functions change (CREATE OR REPLACE); no table does.
{% include 'phase2/invoke_processor_loop/functions.sql' %}
