"""Tests of the ``galseg`` command line, run as a user would."""

from pathlib import Path
import subprocess
import sys

from astropy.table import Table
import numpy as np
import pytest

from galseg import MaskStore
from galseg.cli import main
from galseg.io import write_cutout
from galseg.simulate import simulate_cutout
from galseg.taxonomy import MATLAS_TAXONOMY

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture
def cutout_file(tmp_path):
    cutout, _ = simulate_cutout(5, survey="legacy", size=96)
    return write_cutout(cutout, tmp_path / "galaxy.fits")[0], cutout


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("info", "simulate", "export", "annotate", "demo"):
        assert command in out


def test_simulate_help_lists_every_survey_preset_and_rubin_runs(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "survey preset: legacy, hsc, euclid, rubin" in out
    args = ["simulate", "--n", "1", "--size", "48", "--survey", "rubin", "--out", str(tmp_path)]
    assert main(args) == 0
    (path,) = tmp_path.glob("sim_*.fits")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bands:       u, g, r, i, z, y" in out and "0.2000 arcsec/px" in out


def test_info_on_a_cutout(cutout_file, capsys):
    path, cutout = cutout_file
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bands:       g, r, z" in out
    assert "3 x 96 x 96" in out
    assert "0.2620 arcsec/px" in out
    ra, dec = cutout.sky_coord_centre()
    assert f"RA {ra:.6f}" in out and f"Dec {dec:+.6f}" in out
    assert cutout.content_hash in out
    noise_lines = [line for line in out.splitlines() if line.startswith(("g ", "r ", "z "))]
    assert len(noise_lines) == 3


def test_info_on_real_2mass_band_files(capsys):
    paths = [SHARED_DATA / "2mass" / f"2MASS_{b}.fits.gz" for b in "jhk"]
    if not all(p.exists() for p in paths):
        pytest.skip(f"real 2MASS files not found under {SHARED_DATA}")
    assert main(["info", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    assert "bands:       J, H, K" in out  # FILTER keywords of the real files


def test_simulate_info_and_export_round_trip(tmp_path, capsys):
    out_dir = tmp_path / "sims"
    assert main(["simulate", "--n", "3", "--size", "64", "--seed", "7", "--out", str(out_dir)]) == 0
    assert len(sorted(out_dir.glob("sim_*.fits"))) == 3
    store = MaskStore.open(out_dir / "truth.zarr", mode="r")
    assert len(store) == 3
    capsys.readouterr()

    assert main(["info", str(out_dir / "truth.zarr")]) == 0
    out = capsys.readouterr().out
    assert "cutouts:     3" in out and "tidal_stream" in out

    dataset = tmp_path / "dataset"
    assert main(["export", str(out_dir / "truth.zarr"), str(dataset), "--fits"]) == 0
    manifest = Table.read(dataset / "manifest.ecsv")
    assert set(manifest["annotator"]) == {"truth"}
    assert all((dataset / p).exists() for p in manifest["fits_mask"])


def test_simulate_layouts_and_compression(tmp_path):
    out_dir = tmp_path / "cube"
    args = ["simulate", "--n", "2", "--size", "48", "--layout", "per-band", "--compression", "gzip"]
    assert main([*args, "--out", str(out_dir)]) == 0
    assert len(sorted(out_dir.glob("sim_*_?.fits.gz"))) == 6
    store = MaskStore.open(out_dir / "truth.zarr", mode="r")
    cid = store.ids()[0]
    np.testing.assert_array_equal(store.cutout(cid).data.shape, (3, 48, 48))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["info", "{tmp}/missing.fits"], "missing.fits"),
        (["info", "{tmp}/notes.fits"], "notes.fits"),
        (["export", "{tmp}/nostore.zarr", "{tmp}/out"], "no mask store here"),
        (["simulate", "--n", "1", "--survey", "sdss", "--out", "{tmp}/x"], "sdss"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, capsys, args, expected):
    (tmp_path / "notes.fits").write_text("these are my notes, not a FITS file\n")
    status = main([a.format(tmp=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("galseg: error: ") and expected in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("args", [["demo"], ["annotate", "sample_data", "--store", "x.zarr"]])
def test_gui_commands_without_a_display_say_so(monkeypatch, capsys, tmp_path, args):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "no display" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.zarr").exists()


@pytest.mark.parametrize("option", ["--checkpoint", "--sam-checkpoint"])
def test_a_missing_checkpoint_is_one_line_before_any_window(tmp_path, capsys, option):
    from galseg.samples import sample_dir

    args = [
        "annotate",
        str(sample_dir()),
        "--store",
        str(tmp_path / "x.zarr"),
        "--annotator",
        "ada",
    ]
    assert main([*args, option, str(tmp_path / "none.pth")]) == 1
    err = capsys.readouterr().err
    assert "none.pth: no such checkpoint file" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.zarr").exists()


def test_the_installed_command_reports_bad_input_without_traceback(tmp_path):
    bad = tmp_path / "truncated.fits"
    bad.write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    result = subprocess.run(
        [sys.executable, "-m", "galseg", "info", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "truncated.fits" in result.stderr and "Traceback" not in result.stderr


def test_an_unwritable_output_is_one_line_too(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    status = main(["simulate", "--n", "1", "--size", "32", "--out", str(blocker / "sims")])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("galseg: error: ") and "file" in err
    assert len(err.strip().splitlines()) == 1


def test_info_describes_several_cutouts_folders_and_stores(tmp_path, capsys):
    folder = tmp_path / "cutouts"
    folder.mkdir()
    write_cutout(simulate_cutout(1, size=32)[0], folder / "ngc474.fits", layout="per-band")
    write_cutout(simulate_cutout(2, size=32)[0], folder / "ngc1316.fits.gz")
    lone = write_cutout(simulate_cutout(3, size=48)[0], tmp_path / "lone.fits")[0]
    (folder / "broken.fits").write_bytes(b"")
    store = MaskStore.open(tmp_path / "masks.zarr")
    store.add_cutout(simulate_cutout(4, size=32)[0])
    status = main(["info", str(folder), str(lone), str(store.path)])
    captured = capsys.readouterr()
    assert status == 1  # one cutout is unreadable; the others are still described
    assert captured.err == f"galseg: error: {folder / 'broken.fits'}: empty file\n"
    sources = [line.split(maxsplit=1)[1] for line in captured.out.splitlines() if "source:" in line]
    assert sources == [
        str(folder / "ngc1316.fits.gz"),
        ", ".join(str(folder / f"ngc474_{band}.fits") for band in "grz"),
        str(lone),
    ]
    assert "3 x 48 x 48" in captured.out
    assert f"store:       {store.path}" in captured.out and "cutouts:     1" in captured.out


def test_info_refuses_band_files_of_two_galaxies_naming_both(tmp_path, capsys):
    cutout = simulate_cutout(1, size=32)[0]
    g, r, _ = write_cutout(cutout, tmp_path / "pair.fits", layout="per-band")
    elsewhere = simulate_cutout(2, size=32)[0]  # the simulator puts each seed elsewhere
    write_cutout(elsewhere, tmp_path / "other.fits", layout="per-band")
    (tmp_path / "other_r.fits").replace(r)  # pair_r.fits now holds another field
    status = main(["info", str(g), str(r)])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith(f"galseg: error: {r}: band 'r'")
    assert str(g) in err and "within 1 pixel" in err and len(err.splitlines()) == 1


def test_failed_commands_create_nothing(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no FITS here")
    store = tmp_path / "masks.zarr"
    assert main(["predict", str(empty), "--out", str(store)]) == 1
    err = capsys.readouterr().err
    assert err == f"galseg: error: no FITS cutouts found in {empty}\n"
    monkeypatch.setenv("DISPLAY", ":0")  # every check below fails before a window opens
    assert main(["annotate", str(tmp_path / "absent"), "--store", str(store)]) == 1
    assert "absent" in capsys.readouterr().err
    args = ["annotate", str(SAMPLES), "--store", str(store), "--annotator", "ada!"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"galseg: error: {store}: annotator 'ada!' is not a valid name")
    assert not store.exists() and not (tmp_path / "masks.predict-report.json").exists()


@pytest.mark.gui
def test_annotate_makes_a_store_in_the_taxonomy_named(tmp_path, capsys, monkeypatch):
    pytest.importorskip("napari")
    from napari.qt import get_qapp
    from qtpy.QtCore import QTimer

    from napari_galseg._annotator import AnnotatorWidget

    monkeypatch.setenv("GALSEG_CONFIG_DIR", str(tmp_path / "config"))
    store = tmp_path / "m.zarr"
    command = ["annotate", str(SAMPLES), "--store", str(store), "--annotator", "ada"]
    for spec in ("jafar", str(tmp_path / "ours.json")):
        assert main([*command, "--taxonomy", spec]) == 1
        assert capsys.readouterr().err == (
            f"galseg: error: {spec}: neither a taxonomy preset (galseg, matlas) "
            "nor a file of classes\n"
        )
    assert not store.exists()

    shown = []

    def read_the_window_and_close_it():
        widgets = [w for w in get_qapp().allWidgets() if isinstance(w, AnnotatorWidget)]
        if widgets:
            shown.append([button.text() for button in widgets[0].class_buttons.buttons()])
            widgets[0].viewer.close()
            timer.stop()

    get_qapp()
    timer = QTimer()
    timer.timeout.connect(read_the_window_and_close_it)
    timer.start(100)
    assert main([*command, "--taxonomy", "matlas", "--no-assist"]) == 0
    assert shown[0][:2] == ["1  stream", "2  shell"] and len(shown[0]) == 9
    assert MaskStore.open(store, mode="r").taxonomy == MATLAS_TAXONOMY
    # calibration cutouts are simulated in galseg's classes
    new_store = tmp_path / "new.zarr"
    for target, taxonomy in ((store, []), (new_store, ["--taxonomy", "matlas"])):
        command[3] = str(target)
        assert main([*command, *taxonomy, "--calibration", "2", "--no-assist"]) == 1
        assert capsys.readouterr().err == (
            f"galseg: error: {target}: calibration cutouts carry galseg's classes, and this "
            "store paints in other ones\n"
        )
    assert not new_store.exists() and not list(tmp_path.glob("*calibration*"))
    assert not shown[1:]


@pytest.mark.parametrize("command", [["demo"], ["annotate", "sample_data", "--store", "x.zarr"]])
def test_without_the_plugin_the_gui_commands_say_what_to_install(
    monkeypatch, capsys, tmp_path, command
):
    monkeypatch.setitem(sys.modules, "napari_galseg", None)  # "import napari_galseg" fails
    monkeypatch.chdir(tmp_path)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "pip install 'napari-galseg[all]'" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "x.zarr").exists()


def test_only_unreadable_inputs_exit_1_with_the_reasons_and_no_window(tmp_path, capsys):
    (tmp_path / "x.fits").write_text("not FITS at all")
    command = ["annotate", str(tmp_path / "x.fits"), "--store", str(tmp_path / "m.zarr")]
    assert main([*command, "--annotator", "ada", "--no-assist"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("galseg: error: no cutout could be read:") and "x.fits" in err
    assert "Traceback" not in err


def test_an_empty_annotator_name_is_refused(tmp_path, capsys):
    from galseg.samples import sample_dir

    command = ["annotate", str(sample_dir()), "--store", str(tmp_path / "m.zarr")]
    assert main([*command, "--annotator", "", "--no-assist"]) == 1
    err = capsys.readouterr().err
    assert "annotator" in err and len(err.strip().splitlines()) == 1
