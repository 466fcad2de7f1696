"""Differentiable DSP layers: pure functions (core, spectral), synths, effects, the synthesizer."""
from midi_ddsp.dsp.core import (
    MIN_AMPLITUDE,
    MIN_DB,
    amplitude_to_db,
    db_to_amplitude,
    exp_sigmoid,
    harmonic_frequencies,
    hz_to_midi,
    midi_to_hz,
    normalize_harmonics,
    remove_above_nyquist,
    upsample_linear,
    upsample_with_windows,
)
from midi_ddsp.dsp.effects import Reverb, apply_reverb, exp_decay_impulse_response
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
from midi_ddsp.dsp.synths import (
    FilteredNoise,
    Harmonic,
    HarmonicControls,
    filtered_noise,
    frequency_impulse_response,
    harmonic_synth,
    white_noise,
)

__all__ = [
    # core
    "MIN_AMPLITUDE",
    "MIN_DB",
    "amplitude_to_db",
    "db_to_amplitude",
    "exp_sigmoid",
    "harmonic_frequencies",
    "hz_to_midi",
    "midi_to_hz",
    "normalize_harmonics",
    "remove_above_nyquist",
    "upsample_linear",
    "upsample_with_windows",
    # spectral
    "LOUDNESS_REFERENCE",
    "a_weighted_loudness_db",
    "a_weighting_db",
    "log_mel",
    "mel_filterbank",
    "multiscale_spectral_loss",
    "stft_magnitude",
    # synths
    "FilteredNoise",
    "Harmonic",
    "HarmonicControls",
    "filtered_noise",
    "frequency_impulse_response",
    "harmonic_synth",
    "white_noise",
    # effects
    "Reverb",
    "apply_reverb",
    "exp_decay_impulse_response",
    # synthesizer
    "DDSPSynthesizer",
    "render_synth_params",
]
