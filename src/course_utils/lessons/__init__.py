"""One module per lesson for its experiments, plots and widgets (explorers). They build on
the maths and the shared modules; nothing below them imports a lesson.
"""
