"""Supervision (督办): late items escalated to their station chief, later to the district, closed by a response."""
