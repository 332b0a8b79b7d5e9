"""Push: delivering {cc}:live to pages in acknowledged batches, their snapshots, operational health. No Dash."""
