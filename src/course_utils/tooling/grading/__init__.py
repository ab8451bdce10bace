"""``course grade``: the grader, its reports and the sandbox each submission's code runs in.
"""
