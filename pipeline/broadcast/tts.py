"""Speech synthesis with espeak-ng, cached on disk.

`TTS.synthesize(text, voice)` returns the path of a WAV (espeak-ng: 22050 Hz, mono, 16 bit) named by
sha256 of (voice, text, speed) under the cache dir (default `$SCA_RUN_DIR/tts-cache`, `.sca/tts-cache`
without it); a cached file is returned without running espeak-ng. The text goes in on stdin, so a
text starting with "-" is not read as an option. `render_play` joins a `policy.Play`'s utterances,
`repeat` times, with short pauses, into one WAV (bytes) ready to POST.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

INSTALL_HINT = "espeak-ng is not installed; install it with `apt-get install espeak-ng`"


class TTSError(RuntimeError):
    """Speech could not be synthesized (espeak-ng missing or failing)."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("SCA_RUN_DIR") or ".sca") / "tts-cache"


class TTS:
    def __init__(self, cache_dir: str | Path | None = None, speed: int = 150, binary: str = "espeak-ng",
                 timeout_s: float = 30.0):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.speed = speed
        self.binary = binary
        self.timeout_s = timeout_s
        self.runs = 0  # espeak-ng invocations (cache misses), for tests and metrics

    def cache_path(self, text: str, voice: str, speed: int | None = None) -> Path:
        speed = self.speed if speed is None else speed
        digest = hashlib.sha256(f"{voice}\x00{speed}\x00{text}".encode()).hexdigest()
        return self.cache_dir / f"{digest}.wav"

    def synthesize(self, text: str, voice: str, speed: int | None = None) -> Path:
        speed = self.speed if speed is None else speed
        path = self.cache_path(text, voice, speed)
        if path.exists() and path.stat().st_size > 44:
            return path
        exe = shutil.which(self.binary)
        if exe is None:
            raise TTSError(INSTALL_HINT)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".wav", dir=self.cache_dir)
        os.close(fd)
        try:
            self.runs += 1
            proc = subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", tmp, "--stdin"], input=text.encode(),
                                  capture_output=True, timeout=self.timeout_s)
            if proc.returncode != 0 or os.path.getsize(tmp) <= 44:
                raise TTSError(f"espeak-ng -v {voice} failed (exit {proc.returncode}): "
                               f"{proc.stderr.decode(errors='replace').strip()[:500]}")
            os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
        except subprocess.TimeoutExpired:
            raise TTSError(f"espeak-ng -v {voice} took over {self.timeout_s:g} s") from None
        except FileNotFoundError:
            raise TTSError(INSTALL_HINT) from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def render(self, utterances, repeat: int = 1, gap_s: float = 0.4) -> bytes:
        """One WAV of `utterances` ((text, voice) pairs) in order, the whole `repeat` times."""
        frames, params = [], None
        for text, voice in utterances:
            with wave.open(str(self.synthesize(text, voice)), "rb") as w:
                p = (w.getnchannels(), w.getsampwidth(), w.getframerate())
                if params is not None and p != params:
                    raise TTSError(f"espeak-ng voices disagree on WAV format: {p} vs {params}")
                params = p
                frames.append(w.readframes(w.getnframes()))
        if params is None:
            raise TTSError("nothing to say")
        channels, width, rate = params
        gap = b"\x00" * (int(rate * gap_s) * channels * width)
        one = gap.join(frames)
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(width)
            w.setframerate(rate)
            w.writeframes((gap * 2).join([one] * max(1, repeat)))
        return out.getvalue()


def render_play(play, tts: TTS) -> bytes:
    """The WAV of a `policy.Play`."""
    return tts.render(play.utterances, play.repeat)


def wav_stats(source: str | Path | bytes) -> tuple[float, float]:
    """(duration in seconds, RMS in [0, 1]) of a 16-bit PCM WAV file or bytes."""
    handle = wave.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else str(source), "rb")
    with handle as w:
        rate, n, width = w.getframerate(), w.getnframes(), w.getsampwidth()
        data = w.readframes(n)
    if n == 0 or rate == 0:
        return 0.0, 0.0
    if width != 2:
        raise ValueError(f"expected 16-bit PCM, got {8 * width}-bit")
    samples = np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0
    return n / rate, float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0
