"""Sound: ffmpeg in and out, assembling the track, chimes and background, loudness and levelling.

The only stage that starts ffmpeg (``ffmpeg`` runs and decodes, ``encode`` writes the MP3).
"""
