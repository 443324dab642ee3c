"""Real-time streaming: endless generation played live to MIDI ports, files or a browser."""

from .clock import FakeClock, RealClock
from .decoder import IncrementalDecoder, Note
from .outputs import FileRecorder, MemoryOutput, Output, list_output_ports, open_output_port
from .session import StreamReport, StreamSession, StreamSettings

__all__ = [
    "FakeClock",
    "FileRecorder",
    "IncrementalDecoder",
    "MemoryOutput",
    "Note",
    "Output",
    "RealClock",
    "StreamReport",
    "StreamSession",
    "StreamSettings",
    "list_output_ports",
    "open_output_port",
]
