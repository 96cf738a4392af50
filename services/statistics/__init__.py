"""Statistics for the administration: key figures, SVG charts and a CSV export."""
