"""The student commands: ``course update`` (and ``fresh``) and ``course progress``.

Standard library only: ``course.py`` runs them before any environment exists.
"""
