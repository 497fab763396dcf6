"""Benchmarks of the course (`make bench`, not part of `make test`): notebook run times, the cost
of one attribution in forward passes, LRP's peak memory, and the speed-ups the notebooks claim.
Results go to benchmarks/results.md and benchmarks/results.json, with the machine they ran on."""
