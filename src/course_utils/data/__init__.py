"""The data: synthetic sequence tasks, the offline corpus, vocabularies, streams and
chunking.
"""
