"""Autograder for "Deep neural networks and backpropagation" (CIFAR-10 and MNIST).

Data flow, one direction: rubric -> suites -> (sandbox -> probes -> student code) ->
judge -> plugin -> results.json -> report.
"""

__version__ = "0.1.0"
