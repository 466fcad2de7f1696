"""Live playing: a block-based engine around the causal Synthesis Generator.

``StreamingSynth`` (engine) takes note, controller and pitch-bend events and returns audio block
by block; ``StreamingGenerator`` (generator) runs the causal model one block of frames at a time;
``BlockSynth`` and ``PartitionedReverb`` (``midi_ddsp.dsp.blocks``) are the stateful synth and room. ``midi_ddsp_live``
(``midi_ddsp.cli.live``) plays it as a JACK client.
"""
from midi_ddsp.dsp.blocks import BlockSynth, PartitionedReverb
from midi_ddsp.streaming.engine import StreamingSynth, default_expressions
from midi_ddsp.streaming.generator import StreamingGenerator

__all__ = ["StreamingSynth", "StreamingGenerator", "BlockSynth", "PartitionedReverb",
           "default_expressions"]
