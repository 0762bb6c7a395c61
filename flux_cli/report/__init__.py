"""``flux report``: look at a finished run again, from its ``--jsonl`` log alone.

``log`` reads a log into turns and events (with the same reducer the live panel uses, so a
report and the panel agree on every turn), ``summary`` computes the figures and compares two
runs, ``formats`` writes text, JSON and captions, ``plot`` draws the run (matplotlib, from
the optional ``[report]`` extra), ``command`` is the I/O shell the CLI calls.
"""
