"""The flash farm: many boards flashed at once, each an independent flasher session.

``targets`` turns ``--port`` lists, ``--port all`` and ``--ports-file`` into checked ``BoardTarget``s;
``runner`` flashes them with bounded concurrency; ``view`` renders a row per board and the summary;
``report`` writes the JSON production record.
"""
