"""Plan: the exact timeline of a routine, on the sample grid, from the lengths of its spoken lines.

Pure: no engine, no ffmpeg, no files. ``present`` shows a timeline to people (``plan``'s output).
"""
