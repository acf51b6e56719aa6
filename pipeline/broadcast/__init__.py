"""Loudspeaker service: policy (pure), speech synthesis, HTTP delivery, and a speaker simulator."""
