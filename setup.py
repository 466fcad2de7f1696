"""midi_ddsp: MIDI-to-audio synthesis with hierarchical DDSP models, in PyTorch."""
from setuptools import setup

setup(
    name="midi_ddsp",
    version="0.1.0",
    description="Expressive MIDI-to-audio synthesis with differentiable DSP (MIDI-DDSP in PyTorch)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=[
        "midi_ddsp",
        "midi_ddsp.dsp",
        "midi_ddsp.models",
        "midi_ddsp.score",
        "midi_ddsp.expression",
        "midi_ddsp.studio",
        "midi_ddsp.training",
        "midi_ddsp.cli",
        "midi_ddsp.data_pipeline",
        "midi_ddsp.checkpoints",
    ],
    package_dir={
        "midi_ddsp.cli": "cli",
        "midi_ddsp.data_pipeline": "data_pipeline",
        "midi_ddsp.checkpoints": "checkpoints",
    },
    package_data={"midi_ddsp.checkpoints": ["*.pt", "*.json", "*.md", "onnx/*"],
                  "midi_ddsp.studio": ["static/*"]},
    install_requires=[
        "torch>=2.1",
        "numpy>=1.24",
        "scipy>=1.10",
        "pandas>=2.0",
        "pretty_midi>=0.2.10",
        "music21>=9.1",
        "librosa>=0.10",
        "soundfile>=0.12",
        "mido>=1.3",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "pyfluidsynth>=1.3.3",
        "onnxruntime>=1.18",   # renders without torch (midi_ddsp.runtime): a fast start-up
        "threadpoolctl>=3.1",  # one BLAS thread for the synth's small products
    ],
    extras_require={
        "interop": ["note-seq>=0.0.5"],
        "ray": ["ray>=2.9"],
        "onnx": ["onnx>=1.16", "onnxscript>=0.2"],   # exporting graphs
        "studio": ["starlette>=0.40", "uvicorn>=0.30", "python-multipart>=0.0.18"],
        "live": ["JACK-Client>=0.5"],
        "test": ["pytest>=7", "httpx>=0.27", "selenium>=4.20", "pyloudnorm>=0.1"],
    },
    entry_points={
        "console_scripts": [
            "midi_ddsp_synthesize=midi_ddsp.cli.synthesize:main",
            "midi_ddsp_build_corpus=midi_ddsp.cli.build_corpus:main",
            "midi_ddsp_build_shards=midi_ddsp.cli.build_shards:main",
            "midi_ddsp_train=midi_ddsp.cli.train:main",
            "midi_ddsp_evaluate=midi_ddsp.cli.evaluate:main",
            "midi_ddsp_export=midi_ddsp.cli.export:main",
            "midi_ddsp_transfer=midi_ddsp.cli.transfer:main",
            "midi_ddsp_studio=midi_ddsp.cli.studio:main",
            "midi_ddsp_live=midi_ddsp.cli.live:main",
        ]
    },
)
