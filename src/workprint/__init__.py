"""workprint: record real desktop work as agent training data, with safeguards enforced in code."""

__version__ = "0.1.0"
