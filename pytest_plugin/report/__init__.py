"""What the plugin writes about a test's orchestrations: the failure report section, timelines, golden files.

``failure.py``: the report section of a failed test (instances, histories, entities, injected faults);
``timeline.py``: history text (the fake's ``durabletask_testing.timeline``); ``golden.py``: normalised timelines
compared with files beside the test.
"""
