"""The class taxonomy: one definition of labels, names and colours."""

import json

import numpy as np
import pytest

from galseg import DEFAULT_TAXONOMY, FeatureClass, MaskError, Taxonomy, TaxonomyError
from galseg.taxonomy import MATLAS_TAXONOMY, read_taxonomy


def test_default_classes_are_the_documented_ones():
    assert [(c.value, c.name) for c in DEFAULT_TAXONOMY] == [
        (0, "unlabelled"),
        (1, "tidal_stream"),
        (2, "shell"),
        (3, "tidal_tail"),
        (4, "bar"),
        (5, "contaminant"),
    ]
    assert DEFAULT_TAXONOMY["bar"] is DEFAULT_TAXONOMY[4]
    assert len({c.colour for c in DEFAULT_TAXONOMY}) == len(DEFAULT_TAXONOMY)


def test_colours_are_rgba_and_unlabelled_is_transparent():
    colours = DEFAULT_TAXONOMY.colours()
    assert colours[0][3] == 0
    assert colours[2] == pytest.approx((1.0, 0xB0 / 255, 0.0, 1.0))


def test_round_trip_through_dict():
    assert Taxonomy.from_dict(DEFAULT_TAXONOMY.to_dict()) == DEFAULT_TAXONOMY


def test_validate_mask_names_unknown_labels():
    DEFAULT_TAXONOMY.validate_mask(np.arange(6, dtype=np.uint8))
    with pytest.raises(MaskError, match=r"cutout x: labels \[6, 200\]"):
        DEFAULT_TAXONOMY.validate_mask(np.array([0, 6, 200], np.uint8), where="cutout x")


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ([FeatureClass(1, "a", "#000000")], "value 0"),
        ([FeatureClass(0, "a", "#000000"), FeatureClass(0, "b", "#000000")], "duplicate label"),
        ([FeatureClass(0, "a", "#000000"), FeatureClass(1, "a", "#000000")], "duplicate class"),
    ],
)
def test_inconsistent_taxonomies_are_refused(classes, message):
    with pytest.raises(TaxonomyError, match=message):
        Taxonomy(classes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"value": 300}, "not in 0-255"), ({"colour": "red"}, "#rrggbb")],
)
def test_bad_classes_are_refused(kwargs, message):
    with pytest.raises(TaxonomyError, match=message):
        FeatureClass(**{"value": 1, "name": "x", "colour": "#ffffff", **kwargs})


def test_unknown_class_lists_the_known_ones():
    with pytest.raises(TaxonomyError, match="1=tidal_stream"):
        DEFAULT_TAXONOMY["ring"]
    with pytest.raises(TaxonomyError, match="malformed"):
        Taxonomy.from_dict({"classes": [{"value": 0}]})


def test_a_taxonomy_by_preset_name_or_from_a_file(tmp_path):
    assert read_taxonomy("matlas") is MATLAS_TAXONOMY
    assert read_taxonomy("galseg") is DEFAULT_TAXONOMY
    rings = Taxonomy(
        [FeatureClass(0, "unlabelled", "#000000"), FeatureClass(7, "ring", "#ff00ff", "A ring.")]
    )
    path = tmp_path / "rings.json"
    path.write_text(json.dumps(rings.to_dict()))
    assert read_taxonomy(path) == rings and read_taxonomy(str(path)) == rings


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "neither a taxonomy preset (galseg, matlas) nor a file of classes"),
        ("{not json", "the taxonomy is not JSON"),
        ('{"classes": [{"value": 1, "name": "a", "colour": "#000000"}]}', "needs a class with"),
    ],
)
def test_a_bad_taxonomy_file_is_named_in_the_error(tmp_path, content, message):
    path = tmp_path / "ours.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(TaxonomyError) as error:
        read_taxonomy(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
