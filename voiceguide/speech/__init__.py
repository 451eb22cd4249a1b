"""Synthesise: the speech engines (the only modules that import TTS libraries), the cache of spoken
lines, and decoding what an engine returns into clips on the track's sample grid."""
