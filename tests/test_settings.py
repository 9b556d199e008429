"""Tests of the user settings file: defaults, round trip, corrupt files, atomic writes."""

import json
import os
from pathlib import Path
import sys

import pytest

from galseg import GalsegError
from galseg.settings import Settings, load_settings, save_settings, settings_path


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("GALSEG_CONFIG_DIR", str(folder))
    return folder


def test_no_file_gives_the_defaults_silently(config, recwarn):
    assert load_settings() == Settings(annotator=None, stretch="lsb", show_bands=False)
    assert len(recwarn) == 0 and not config.exists()


def test_settings_round_trip_as_json(config):
    settings = Settings(
        annotator="Ada Lovelace",
        stretch="asinh",
        softening=2.5,
        show_bands=True,
        smoothing="gauss 2",
        retrain_every=5,
    )
    save_settings(settings)
    assert settings_path() == config / "settings.json"
    assert json.loads(settings_path().read_text()) == {
        "annotator": "Ada Lovelace",
        "stretch": "asinh",
        "softening": 2.5,
        "show_bands": True,
        "smoothing": "gauss 2",
        "retrain_every": 5,
    }
    assert load_settings() == settings
    save_settings(Settings(annotator="bob"))
    assert load_settings() == Settings(annotator="bob")
    assert os.listdir(config) == ["settings.json"]  # no temporary file left


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b""])
def test_a_corrupt_file_gives_the_defaults_and_a_warning_naming_it(config, content):
    config.mkdir()
    (config / "settings.json").write_bytes(content)
    with pytest.warns(UserWarning, match="settings.json"):
        assert load_settings() == Settings()


def test_a_folder_in_place_of_the_file_gives_the_defaults(config):
    (config / "settings.json").mkdir(parents=True)
    with pytest.warns(UserWarning, match="settings.json"):
        assert load_settings() == Settings()


def test_bad_values_fall_back_one_by_one_and_unknown_keys_are_ignored(config):
    config.mkdir()
    saved = {
        "annotator": "ada",
        "stretch": "rainbow",
        "show_bands": "yes",
        "retrain_every": -3,
        "future": 1,
    }
    (config / "settings.json").write_text(json.dumps(saved))
    with pytest.warns(UserWarning) as warned:
        assert load_settings() == Settings(annotator="ada")
    messages = " ".join(str(w.message) for w in warned)
    assert "stretch='rainbow'" in messages and "show_bands='yes'" in messages
    assert "retrain_every=-3" in messages
    assert "future" not in messages


@pytest.mark.parametrize("annotator", ["", 42, "a/b", "x" * 65])
def test_an_invalid_annotator_is_forgotten(config, annotator):
    config.mkdir()
    (config / "settings.json").write_text(json.dumps({"annotator": annotator, "stretch": "log"}))
    with pytest.warns(UserWarning, match="annotator"):
        assert load_settings() == Settings(stretch="log")


def test_a_failed_write_leaves_the_old_file(config, monkeypatch):
    save_settings(Settings(annotator="ada"))

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(GalsegError, match="settings.json.*No space left"):
        save_settings(Settings(annotator="bob"))
    monkeypatch.undo()
    assert os.listdir(config) == ["settings.json"]
    assert json.loads((config / "settings.json").read_text())["annotator"] == "ada"


def test_an_unwritable_place_raises_naming_the_file(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("GALSEG_CONFIG_DIR", str(tmp_path / "file"))
    with pytest.raises(GalsegError, match="settings.json"):
        save_settings(Settings())


def test_the_platform_folder_without_the_variable(monkeypatch):
    platformdirs = pytest.importorskip("platformdirs")
    monkeypatch.delenv("GALSEG_CONFIG_DIR", raising=False)
    assert settings_path() == Path(platformdirs.user_config_dir("galseg")) / "settings.json"


def test_dot_config_without_platformdirs(tmp_path, monkeypatch):
    monkeypatch.delenv("GALSEG_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "platformdirs", None)  # import fails
    assert settings_path() == tmp_path / ".config" / "galseg" / "settings.json"


@pytest.mark.parametrize("softening", [0.0, 50, True, "2"])
def test_a_softening_out_of_range_is_forgotten(config, softening):
    config.mkdir()
    (config / "settings.json").write_text(json.dumps({"softening": softening, "stretch": "log"}))
    with pytest.warns(UserWarning, match="softening"):
        assert load_settings() == Settings(stretch="log")
