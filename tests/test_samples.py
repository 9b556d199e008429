"""The bundled samples: every layout present, truth as documented, small, reproducible."""

from pathlib import Path

import numpy as np
import pytest

from galseg import MaskStore
from galseg.samples import SAMPLES, load_samples, make_samples, sample_dir
from galseg.taxonomy import DEFAULT_TAXONOMY


@pytest.fixture(scope="module")
def samples():
    return load_samples()


def test_samples_cover_layouts_compressions_and_classes(samples):
    assert 6 <= len(samples) <= 10
    assert {s.spec.layout for s in samples} == {"mef", "cube", "per-band"}
    assert {s.spec.suffix for s in samples} >= {".fits", ".fits.gz", ".fits.fz"}
    present = {DEFAULT_TAXONOMY[int(v)].name for s in samples for v in np.unique(s.truth) if v}
    assert present >= {"tidal_stream", "shell", "tidal_tail", "bar"}
    assert {s.cutout.survey for s in samples} == {"legacy", "hsc", "euclid"}


def test_each_sample_truth_holds_the_features_it_promises(samples):
    for sample in samples:
        labels = {DEFAULT_TAXONOMY[int(v)].name for v in np.unique(sample.truth) if v}
        if sample.spec.name.startswith("faint"):
            assert not labels & {"tidal_stream", "shell", "tidal_tail", "bar"}
        else:
            assert set(sample.spec.features) <= labels, sample.spec.name


def test_sample_data_is_small():
    total = sum(p.stat().st_size for p in sample_dir().rglob("*") if p.is_file())
    assert total < 5_000_000


def test_truth_store_is_portable_and_regeneration_is_identical(samples, tmp_path):
    store = MaskStore.open(sample_dir() / "truth.zarr", mode="r")
    for sample in samples:
        assert not Path(store.info(sample.cutout_id)["source"][0]).is_absolute()
    make_samples(tmp_path)
    again = load_samples(tmp_path)
    for old, new in zip(samples, again, strict=True):
        assert new.cutout.content_hash == old.cutout.content_hash, old.spec.name
        np.testing.assert_array_equal(new.truth, old.truth)
    assert [s.spec for s in again] == list(SAMPLES)
