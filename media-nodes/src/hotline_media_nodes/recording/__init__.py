"""Recordings of bridged calls, encrypted at rest with AES-GCM.

``logic`` holds the key rules, the sealed file format and where a recording lives
(pure); ``adapters`` seals a finished WAV into the store and opens one again (files).
"""
