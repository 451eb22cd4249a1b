"""Load and validate: read a routine file into a ``model.Routine``, or report every problem in it.

``source`` reads the YAML safely, ``kinds``/``values``/``schema`` are the declarative schema engine,
``fields`` declares every field once, ``build`` turns checked fields into the model. ``starter``,
``reference`` and ``watch`` serve authors: a starter file, the JSON Schema and docs tables, saves.
"""
