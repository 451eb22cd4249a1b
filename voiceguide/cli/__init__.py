"""The ``voiceguide`` command line: thin commands over the pipeline; the only place that prints errors."""
