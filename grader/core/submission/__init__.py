"""Reading a submission without running it: its sources and notebooks (source.py), the
settings and answers it declares (declared.py, answers.py), data files it hands in
(files.py) and the uploads a grade or a batch starts from (uploads.py)."""
