"""IEC 60601-1-8 alarm sound: the signals (spec, samples), their rhythm, and the players.

``spec`` and ``schedule`` are pure and light (the terminal bell uses them); ``signals`` needs
numpy; ``player`` opens the speakers through sounddevice when it can. See docs/audio.md.
"""
