"""The replay audit of passed tests (:mod:`.replay`, a thin caller of ``durabletask_testing.replay``; :mod:`.functions`
for Durable Functions apps) and the second pass both share, in processes with other string-hash seeds
(:mod:`.hash_seed`)."""
