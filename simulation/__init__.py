"""Sample data, not product logic: the live simulator, simulated field units, a year of history. No Dash."""
