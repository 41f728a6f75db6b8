"""Great Expectations suites for synth datasets, versioned with the code that builds the data.

``suites`` turns a recipe's ``validation`` thresholds into Expectation Suites, ``run`` validates the statistics
tables with them through Checkpoints and writes Data Docs, and ``outcome`` decides what the results mean
(pure Python, no Great Expectations import, so it is cheap to test). Importing this package does not import
Great Expectations: only ``suites`` and ``run`` do, and only the validate command loads them.
"""
