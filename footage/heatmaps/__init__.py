"""Heatmaps and frustration signals: where visitors click, scroll and get stuck."""
