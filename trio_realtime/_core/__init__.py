"""The sans-I/O core: events, codec, audio, VAD, conversation and turn state machines.

Nothing here does I/O or imports trio's scheduler: plain objects fed events and returning
events, shared by the client session and the reference server. Layers above import from here;
nothing here imports from them (``tests/test_layers.py``).
"""
