"""The parts of ``benchmarks/bench_server_load.py``, which runs the phases and owns the command.

* :mod:`.proc`: CPU and memory of processes, read from ``/proc``.
* :mod:`.client`: one bare client connection: connect, wait for ``session.created``, close.
* :mod:`.worker`: a client process streaming real-time audio sessions (``--worker``).
* :mod:`.processes`: the child processes: the server, the workers, their output lines.
* :mod:`.report`: summaries, the verdict and the printed table.
"""
