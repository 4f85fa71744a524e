"""PNG plots of models' internals (matplotlib's Agg canvas, no pyplot state)."""
