"""The grading suites: one pytest file per question, one test per rubric check."""
