"""What students are handed: the audited archive of the template and public self-checks."""
