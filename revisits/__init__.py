"""Return visits: the monthly sample of closed matters, the calls that confirm each fix, and what they reopen."""
