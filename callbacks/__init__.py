"""Dash callbacks: read inputs, check rights, call the domain, return outputs."""
