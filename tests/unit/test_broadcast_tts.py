"""Speech synthesis: espeak-ng WAVs are real speech; the cache does not rerun espeak-ng."""
import shutil

import pytest

from pipeline.broadcast.policy import Play
from pipeline.broadcast.tts import TTS, TTSError, render_play, wav_stats

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

RMS_FLOOR = 0.01


@pytest.mark.parametrize("text,voice", [("请注意，消防通道禁止停车", "cmn"), ("Please do not park in the fire lane", "en")])
def test_wav_is_real_speech(tmp_path, text, voice):
    path = TTS(tmp_path).synthesize(text, voice)
    duration, rms = wav_stats(path)
    assert duration > 0.5 and rms > RMS_FLOOR


def test_cache_hit_does_not_rerun_espeak(tmp_path):
    tts = TTS(tmp_path)
    first = tts.synthesize("请勿高空抛物", "cmn")
    mtime = first.stat().st_mtime_ns
    again = TTS(tmp_path)  # a new process would see the same files
    assert again.synthesize("请勿高空抛物", "cmn") == first and again.runs == 0
    assert first.stat().st_mtime_ns == mtime and tts.runs == 1
    tts.synthesize("请勿高空抛物", "cmn", speed=200)  # another speed is another file
    assert tts.runs == 2 and len(list(tmp_path.glob("*.wav"))) == 2


def test_default_cache_dir_follows_sca_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SCA_RUN_DIR", str(tmp_path))
    assert TTS().cache_dir == tmp_path / "tts-cache"


def test_render_play_joins_languages_and_repeats(tmp_path):
    tts = TTS(tmp_path)
    play = Play("c1", "spk-1", "fire_lane", 80, 1, (("消防通道禁止停车", "cmn"), ("No parking", "en")))
    once, _ = wav_stats(render_play(play, tts))
    zh, _ = wav_stats(tts.synthesize("消防通道禁止停车", "cmn"))
    en, _ = wav_stats(tts.synthesize("No parking", "en"))
    assert once == pytest.approx(zh + en + 0.4, abs=0.01)
    twice, rms = wav_stats(render_play(Play("c1", "spk-1", "fire_lane", 80, 2, play.utterances), tts))
    assert twice == pytest.approx(2 * once + 0.8, abs=0.01) and rms > RMS_FLOOR
    assert tts.runs == 2


def test_missing_espeak_says_how_to_install(tmp_path):
    with pytest.raises(TTSError, match="apt-get install espeak-ng"):
        TTS(tmp_path, binary="espeak-ng-not-here").synthesize("你好", "cmn")
