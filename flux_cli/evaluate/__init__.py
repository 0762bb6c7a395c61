"""``flux eval``: how well a server ends turns on the user's own calls.

Pure cores (truth from channels or labels, scoring, threshold replay, the recommendation)
take plain values and are tested with literal inputs; the runner and the command are thin
shells around them. Definitions are in ``docs/EVAL.md``.
"""
