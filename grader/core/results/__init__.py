"""What a grading produces: records, results.json for Gradescope, report.html with its
charts, the files of a run and the terminal listing."""
