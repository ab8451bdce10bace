"""The course tooling: the command line, build, grading (and its sandbox), update, progress
and the website. Notebooks never import it.
"""
