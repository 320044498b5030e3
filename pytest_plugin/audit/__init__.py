"""The replay audit of passed tests (:mod:`.replay`, a thin caller of ``durabletask_testing.replay``) and its
second pass in processes with other string-hash seeds (:mod:`.hash_seed`)."""
