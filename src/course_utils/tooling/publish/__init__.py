"""What an instructor publishes: ``course build`` (the student and assignment editions,
the nbgrader source and its hidden tests) and ``course site`` (the website).
"""
