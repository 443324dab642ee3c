"""Audio responses: FLAC/OGG/MP3 formats, the server's soundfont, reverb and loudness."""

from __future__ import annotations

import io
import shutil

import pytest
import soundfile
from fastapi.testclient import TestClient
from tests.conftest import make_score

from tunesmith.api import Composer
from tunesmith.errors import BadInputError
from tunesmith.render.audio import shipped_soundfont
from tunesmith.render.mastering import loudness
from tunesmith.serve import ServeSettings, create_app


@pytest.fixture(scope="module")
def composer(tiny_run) -> Composer:
    return Composer.load(tiny_run)


def midi(bars: int = 4) -> bytes:
    return make_score(2, (4, 4), 2, bars, [0, 32], seed=1).dumps_midi()


def upload(client, fmt: str):
    files = {"file": ("p.mid", midi(), "audio/midi")}
    return client.post("/v1/render", files=files, data={"format": fmt})


def test_compressed_formats_at_the_servers_loudness(composer, tmp_path):
    sf2 = tmp_path / "font.sf2"
    shutil.copy(shipped_soundfont(), sf2)
    settings = ServeSettings(soundfont=str(sf2), loudness=-20.0, reverb=0.1, warmup=False)
    with TestClient(create_app(composer, settings)) as client:
        assert {"flac", "ogg", "mp3"} <= set(client.get("/v1/info").json()["formats"])
        for fmt, media in [("flac", "audio/flac"), ("ogg", "audio/ogg"), ("mp3", "audio/mpeg")]:
            r = upload(client, fmt)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == media
            assert f'.{fmt}"' in r.headers["content-disposition"]
            audio, rate = soundfile.read(io.BytesIO(r.content), dtype="float32")
            assert rate == settings.wav_sample_rate and audio.shape[1] == 2
            assert loudness(audio, rate) == pytest.approx(-20.0, abs=1.0)
        # the soundfont is replaced by a corrupt file after start-up: one line, 422
        sf2.write_text("not a soundfont any more")
        from tunesmith.render.audio import _soundfont_bytes

        _soundfont_bytes.cache_clear()
        r = upload(client, "wav")
        assert r.status_code == 422, r.text
        assert "is not a soundfont" in r.json()["detail"] and "\n" not in r.json()["detail"]


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"soundfont": "/nothere/GM.sf2"}, "does not exist"),
        ({"reverb": 2.0}, "reverb"),
        ({"loudness": 0.0}, "loudness"),
    ],
)
def test_bad_audio_settings_stop_the_start(settings, fragment):
    with pytest.raises(BadInputError, match=fragment):
        ServeSettings(**settings).validated()
