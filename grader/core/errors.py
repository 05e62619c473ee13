"""The grader's own errors: one base class, so the CLI catches one type.

Only these mean "grader error, contact course staff"; anything a submission does wrong is
reported as that check's failure, never raised as one of these.
"""


class GraderError(Exception):
    """A fault of the grader or its set-up (not of the submission)."""


class RubricError(GraderError):
    """rubric.toml is missing a field or holds an inconsistent value."""


class DataError(GraderError):
    """A dataset is missing, unreadable or not in the expected on-disk format."""


class SandboxError(GraderError):
    """The sandbox could not start a child process (not: the child failed)."""


class BatchError(GraderError):
    """A batch folder (grade-all) cannot be read or holds no submission."""
