"""The maths: reference RNN, LSTM and scalar-RNN forward/backward passes, losses,
Jacobians, truncated BPTT, gradient checks. numpy (and torch for the autograd
comparisons); no plots, no widgets, no lessons.
"""
