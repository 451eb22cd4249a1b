"""Write a phone-ready track: the levelled MP3 (or one per chapter), its tags, cover and sidecars,
and read one back (``info``)."""
