"""The test kit shared by tests/, bench/ and faults/: entries, accounts, servers, clients, browsers, the clock.

Everything here is built relative to the product's clock (:mod:`clock`), so tests pass on any day.
Only tests, benchmarks and fault drills import it; it imports none of them.
"""
