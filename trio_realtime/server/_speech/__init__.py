"""Real speech for the reference server: pocketsphinx hears, eSpeak NG speaks, all offline.

Needs the ``speech`` extra (``pip install "trio-realtime[speech]"``): ``pocketsphinx`` (BSD,
its en-US acoustic model, language model and dictionary inside the wheel) and
``espeakng-loader`` (eSpeak NG's library and data, GPL-3.0). Nothing is downloaded at run
time. Import this package only to use the engine: ``import trio_realtime.server`` never
imports it.

::

    async with open_speech_engine(realistic=True) as engine:
        await serve("127.0.0.1", 8765, engine=engine)
"""

from __future__ import annotations

from ._engine import SpeechEngine as SpeechEngine
from ._engine import SpeechSession as SpeechSession
from ._engine import SpeechStatistics as SpeechStatistics
from ._engine import open_speech_engine as open_speech_engine
from ._recogniser import Heard as Heard
from ._recogniser import RecogniserError as RecogniserError
from ._voice import VoiceError as VoiceError

__all__ = [
    "Heard",
    "RecogniserError",
    "SpeechEngine",
    "SpeechSession",
    "SpeechStatistics",
    "VoiceError",
    "missing_packages",
    "open_speech_engine",
]


def missing_packages() -> list[str]:
    """The ``speech`` extra's packages that are not installed (empty when all are)."""
    from importlib.util import find_spec

    return [name for name in ("pocketsphinx", "espeakng_loader") if find_spec(name) is None]
