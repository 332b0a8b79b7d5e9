"""People's positions: where community officers and grid workers are, and their time in their community."""
