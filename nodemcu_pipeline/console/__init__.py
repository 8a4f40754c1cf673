"""The console script's own parts: its command line (``command_line``), its help (``usage``) and
what tasks report as facts, as text or one JSON object (``facts``); ``program.py`` runs them."""
