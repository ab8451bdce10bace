"""Helpers for the hands-on BPTT course.

Import what a notebook needs from the submodules, e.g.::

    from course_utils import setup, rnn
    from course_utils.exercises import ex01

Modules
-------
runtime     seeding, print options, threads, device choice (``setup``)
numerics    relative error (``rel_error``)
rnn         numpy reference vanilla RNN: forward/backward, fast versions, torch weight copy (01, 03)
unrolling   the memory of the first input: exact ‖∂h_t/∂x_1‖, explorer (01)
scalar_rnn  the one-unit RNN derived by hand (02)
losses      softmax cross-entropy and MSE with gradients (03)
gradcheck   centred finite differences and a per-array gradient check (02, 03, 07)
jacobians   step Jacobians, their products and norms, spectra and bounds, initialisers (04)
vanishing   gradient norm vs lag measured, its figures and explorer, first-symbol recall (04)
tbptt       truncated BPTT (k1, k2) in numpy and torch, checkpointing, memory measurement (05)
truncation  which gradient paths TBPTT(k1, k2) keeps, explorer (05)
training    a stateful TBPTT training loop for torch models (05)
tasks       synthetic sequence tasks: delayed recall, adding problem (05)
clipping    clipping by norm/value, the cliff, a numpy training loop that stops on NaN (06)
cliff       gradient descent on the cliff with and without clipping, explorer (06)
lstm        numpy reference LSTM and torch.nn.LSTM weight copy, gradient flow (07)
longrange   the adding problem and its training runs (07)
text        offline corpus, vocabulary, stream batching (08)
ngram       uniform, unigram and Kneser-Ney baselines in bits per character (08)
charlm      character language model, stateful TBPTT training, sampling (08)
plots       shared plotting helpers
checker     the exercise-checking framework (verdicts, fallbacks, grading mode)
exercises   one module per notebook with the check functions for its exercises
build       regenerate student notebooks from solutions and re-execute solutions
grading     grade submitted notebooks (``course grade``): the run, workers, command line
grading_select   which submissions, notebooks, students and exercises
grading_checks   the plan from solutions/; checks run here on the sandboxed student code
grading_reports  results, table, CSV and JSON reports
sandbox     the process that runs a submission's code (limits, hidden folders, no pickles)
integrity   held-out checks for nbgrader's hidden tests (fresh checking code, tripwires)
update      update the course without overwriting a student's edits
update_plan what an update will do, decided by pure functions (stdlib only)
update_io   git, atomic writes, the Jupyter check and the advice for local commits
update_undo the update's backup, in-progress marker, rollback and recovery
cli         ``python -m course_utils`` / ``course`` command line
"""

from .runtime import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
