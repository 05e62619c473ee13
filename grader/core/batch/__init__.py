"""Grading many submissions: one grader process per submission (jobs.py), run here
(local.py) or on a Dask cluster (dask_pool.py), merged (merge.py) into a gradebook
(gradebook.py), with similarity between submissions (similarity.py)."""
