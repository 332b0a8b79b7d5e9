"""The mediation centre: a dispute from the first call (or an online application) to a fulfilled agreement."""
