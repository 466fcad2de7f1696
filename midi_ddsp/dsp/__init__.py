"""Differentiable DSP layers: unit conversions (units), pure functions (core, spectral), synths,
effects, the synthesizer."""
from midi_ddsp.dsp.core import (
    HarmonicControls,
    get_controls,
    harmonic_frequencies,
    normalize_harmonics,
    remove_above_nyquist,
    upsample_linear,
)
from midi_ddsp.dsp.effects import (
    DEFAULT_REVERB,
    REVERB_PRESETS,
    ROOM_SAMPLE_RATE,
    RoomPreset,
    apply_reverb,
    resample_impulse_response,
    reverb_preset,
    room_impulse_response,
)
from midi_ddsp.dsp.spectral import (
    LOUDNESS_REFERENCE,
    a_weighted_loudness_db,
    a_weighting_db,
    log_mel,
    mel_filterbank,
    multiscale_spectral_loss,
    stft_magnitude,
)
from midi_ddsp.dsp.synthesizer import DDSPSynthesizer, render_synth_params
from midi_ddsp.dsp.units import (
    MIN_AMPLITUDE,
    MIN_DB,
    amplitude_to_db,
    db_to_amplitude,
    hz_to_midi,
    midi_to_hz,
    power_to_db,
)
from midi_ddsp.dsp.synths import (
    filtered_noise,
    frequency_impulse_response,
    harmonic_synth,
    white_noise,
)

__all__ = [
    # units
    "MIN_AMPLITUDE",
    "MIN_DB",
    "amplitude_to_db",
    "db_to_amplitude",
    "hz_to_midi",
    "midi_to_hz",
    "power_to_db",
    # core
    "HarmonicControls",
    "get_controls",
    "harmonic_frequencies",
    "normalize_harmonics",
    "remove_above_nyquist",
    "upsample_linear",
    # spectral
    "LOUDNESS_REFERENCE",
    "a_weighted_loudness_db",
    "a_weighting_db",
    "log_mel",
    "mel_filterbank",
    "multiscale_spectral_loss",
    "stft_magnitude",
    # synths
    "filtered_noise",
    "frequency_impulse_response",
    "harmonic_synth",
    "white_noise",
    # effects
    "DEFAULT_REVERB",
    "REVERB_PRESETS",
    "ROOM_SAMPLE_RATE",
    "RoomPreset",
    "apply_reverb",
    "resample_impulse_response",
    "reverb_preset",
    "room_impulse_response",
    # synthesizer
    "DDSPSynthesizer",
    "render_synth_params",
]
