"""DSP layers: unit conversions (units), pure functions (core, spectral), synths, rooms and
effects, the differentiable synthesizer (torch) and its numpy twin for rendering (blocks)."""
import importlib

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
    "NOISE_FLOOR_OFFSET_DB",
    "harmonic_log_amplitudes",
    "log_mel",
    "noise_floor_log_amplitudes",
    "mel_filterbank",
    "multiscale_spectral_loss",
    "stft_magnitude",
    # synths
    "filtered_noise",
    "frequency_impulse_response",
    "harmonic_synth",
    "white_noise",
    # rooms and effects
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

# name -> submodule; imported on first use, so importing one submodule (e.g. the torch-free
# ``midi_ddsp.dsp.units``) does not import them all
_WHERE = {
    "HarmonicControls": "core",
    "get_controls": "core",
    "harmonic_frequencies": "core",
    "normalize_harmonics": "core",
    "remove_above_nyquist": "core",
    "upsample_linear": "core",
    "DEFAULT_REVERB": "rooms",
    "REVERB_PRESETS": "rooms",
    "ROOM_SAMPLE_RATE": "rooms",
    "RoomPreset": "rooms",
    "apply_reverb": "effects",
    "resample_impulse_response": "rooms",
    "reverb_preset": "rooms",
    "room_impulse_response": "rooms",
    "LOUDNESS_REFERENCE": "spectral",
    "a_weighted_loudness_db": "spectral",
    "a_weighting_db": "spectral",
    "NOISE_FLOOR_OFFSET_DB": "spectral",
    "harmonic_log_amplitudes": "spectral",
    "log_mel": "spectral",
    "noise_floor_log_amplitudes": "spectral",
    "mel_filterbank": "spectral",
    "multiscale_spectral_loss": "spectral",
    "stft_magnitude": "spectral",
    "DDSPSynthesizer": "synthesizer",
    "render_synth_params": "blocks",
    "MIN_AMPLITUDE": "units",
    "MIN_DB": "units",
    "amplitude_to_db": "units",
    "db_to_amplitude": "units",
    "hz_to_midi": "units",
    "midi_to_hz": "units",
    "power_to_db": "units",
    "filtered_noise": "synths",
    "frequency_impulse_response": "synths",
    "harmonic_synth": "synths",
    "white_noise": "synths",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"midi_ddsp.dsp.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'midi_ddsp.dsp' has no attribute {name!r}")
