"""Tests of galseg.model: the assistant, its checkpoints, encoders, strokes and training.

Everything runs on tiny simulated cutouts (64x64) with a few training steps,
so the file takes well under a minute on two CPU cores.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
import shutil
import subprocess
import sys

import numpy as np
import pytest
from safetensors.torch import save_file
import timm
import torch

from galseg import Cutout, GalsegError, MaskStore
from galseg.cli import main
import galseg.model as gm
from galseg.model import (
    AutomaticRule,
    FeatureCache,
    ModelConfig,
    Preprocessing,
    _assistant,
    _train,
    build_network,
    calibrate_automatic,
    card_path,
    finetune,
    held_back,
    load_assistant,
    model_input,
    negative_stroke,
    next_stroke,
    read_checkpoint,
    read_timm_folder,
    resolve_device,
    save_checkpoint,
    scribble,
    train_encoder,
    train_head,
)
from galseg.model._assistant import LOCAL_FLOOR, connected_to
from galseg.model._calibrate import (
    AXIS_RATIOS,
    FALSE_POSITIVE_BUDGET,
    MIN_PIXELS,
    THRESHOLDS,
    _Option,
    _spend,
)
from galseg.simulate import simulate_galaxy
from galseg.stretch import normalize

TINY = {"n": 6, "size": 64, "batch": 2, "device": "cpu"}


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model")


@pytest.fixture(scope="module")
def encoder_path(folder) -> Path:
    path = folder / "encoder.safetensors"
    train_encoder(path, steps=2, **TINY)
    return path


@pytest.fixture(scope="module")
def checkpoint_path(folder, encoder_path) -> Path:
    path = folder / "assist.safetensors"
    train_head(path, encoder_path, steps=2, **TINY)
    return path


@pytest.fixture(scope="module")
def sim():
    return simulate_galaxy(
        11, size=64, features=("tidal_stream", "bar"), feature_sb=25.0, contaminants=False
    )


@pytest.fixture
def assistant(checkpoint_path):
    return load_assistant(checkpoint_path, device="cpu")


def count_encoder_calls(assistant) -> list[int]:
    calls = [0]

    def hook(*_):
        calls[0] += 1

    assistant.network.encoder.register_forward_hook(hook)
    return calls


def stroke_of(truth: np.ndarray, value: int, seed: int = 0) -> np.ndarray:
    return scribble(truth == value, np.random.default_rng(seed))


# ---------------------------------------------------------- the core is light
def test_importing_galseg_does_not_import_torch():
    script = (
        "import sys, galseg, galseg.cli, galseg.io, galseg.store, galseg.simulate, "
        "galseg.stretch, galseg.export, galseg.queue, galseg.autosave\n"
        "print(sorted(m for m in ('torch', 'timm', 'safetensors') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------ the assistant
def test_complete_gives_a_mask_and_probabilities_of_the_cutout_shape(assistant, sim):
    assistant.set_image(sim.cutout)
    completion = assistant.complete(stroke_of(sim.truth, 1), np.zeros((64, 64), bool), 1)
    assert completion.mask.shape == completion.probability.shape == (64, 64)
    assert completion.mask.dtype == bool and completion.probability.dtype == np.float32
    assert 0.0 <= completion.probability.min() <= completion.probability.max() <= 1.0
    assert (completion.mask == (completion.probability >= 0.5)).all()


def test_previous_completion_and_negative_strokes_change_the_result(assistant, sim):
    assistant.set_image(sim.cutout)
    positive, empty = stroke_of(sim.truth, 1), np.zeros((64, 64), bool)
    first = assistant.complete(positive, empty, "tidal_stream")
    again = assistant.complete(positive, empty, "tidal_stream", previous=first.probability)
    erased = assistant.complete(positive, sim.truth == 4, "tidal_stream")
    assert not np.allclose(first.probability, again.probability)
    assert not np.allclose(first.probability, erased.probability)


def test_completion_is_class_aware(assistant, sim):
    assistant.set_image(sim.cutout)
    positive, negative = stroke_of(sim.truth, 1), np.zeros((64, 64), bool)
    stream = assistant.complete(positive, negative, "tidal_stream").probability
    bar = assistant.complete(positive, negative, "bar").probability
    assert np.abs(stream - bar).max() > 1e-3


def test_a_completion_keeps_only_what_grows_from_the_strokes(assistant, sim):
    assistant.set_image(sim.cutout)
    positive, empty = stroke_of(sim.truth, 1), np.zeros((64, 64), bool)
    raw = assistant.complete(positive, empty, 1, local=False)
    shown = assistant.complete(positive, empty, 1)
    assert not (shown.mask & ~raw.mask).any()
    np.testing.assert_array_equal(shown.mask, connected_to(raw.mask, positive))
    assert shown.locality == pytest.approx(shown.mask.sum() / max(raw.mask.sum(), 1))
    # no threshold brings back light far from the strokes
    far = ~connected_to(shown.probability >= LOCAL_FLOOR, positive)
    assert not shown.probability[far].any()
    # a kept previous completion seeds its own pieces
    again = assistant.complete(empty, empty, 1, previous=shown.mask)
    assert not (again.mask & ~connected_to(again.mask, shown.mask)).any()


def test_calibrated_automatic_thresholds_are_recorded_and_used(tmp_path, checkpoint_path, sim):
    path = tmp_path / checkpoint_path.name
    shutil.copy(checkpoint_path, path)
    shutil.copy(card_path(checkpoint_path), card_path(path))
    calibration = calibrate_automatic(path, n=2, size=64, device="cpu", record={"command": "x"})
    entry = read_checkpoint(path).card["automatic"]
    assert entry["thresholds"] == calibration.rule.thresholds
    assert entry["calibration"]["command"] == "x" and entry["calibration"]["featureless"] == 2
    assert entry["calibration"]["sky_residuals"] is True
    assert all(t in THRESHOLDS for t in calibration.rule.thresholds.values())
    assert entry["max_axis_ratio"] == calibration.rule.max_axis_ratio
    assert set(calibration.rule.max_axis_ratio.values()) <= set(AXIS_RATIOS)
    assert set(calibration.rule.min_pixels.values()) <= set(MIN_PIXELS)
    assert calibration.false_positives <= FALSE_POSITIVE_BUDGET
    assert read_checkpoint(path).identity == read_checkpoint(checkpoint_path).identity
    assert load_assistant(path, device="cpu").automatic == calibration.rule
    strict = load_assistant(path, device="cpu")
    strict.automatic = AutomaticRule(default=1.0)  # nothing reaches it
    assert not strict.segment(sim.cutout).any()


def test_calibration_spends_the_false_positive_budget_where_it_buys_most_iou():
    def option(iou, *hit):
        hits = np.zeros(10, bool)
        hits[list(hit)] = True
        return _Option(0.5, 0, None, iou, hits)

    frontiers = {
        "shell": [option(0.1), option(0.15, 0), option(0.2, 0, 1, 2)],
        "bar": [option(0.3), option(0.7, 3), option(0.75, 3, 4)],
        "tidal_tail": [option(0.0), option(0.2, 3)],  # hits only what bar already hits
    }
    chosen = _spend(frontiers, budget=2)
    assert chosen["bar"].iou == 0.75  # +0.4 for one cutout, then +0.05 for another
    assert chosen["tidal_tail"].iou == 0.2  # free once bar hits cutout 3
    assert chosen["shell"].iou == 0.1  # the budget is spent
    assert _spend(frontiers, budget=0) == {kind: f[0] for kind, f in frontiers.items()}


def test_a_card_with_one_least_piece_size_holds_it_for_every_calibrated_class():
    card = {"automatic": {"thresholds": {"bar": 0.6, "shell": 0.7}, "min_pixels": 50}}
    rule = AutomaticRule.from_card(card, 0.5)
    assert rule.min_pixels == {"bar": 50, "shell": 50} and rule.max_axis_ratio == {}


def test_automatic_mode_drops_round_pieces_of_a_class_with_an_axis_ratio():
    bar = np.zeros((1, 40, 40), np.float32)
    bar[0, 5:15, 5:15] = 0.9  # round
    bar[0, 25:29, 4:36] = 0.9  # elongated, axis ratio about 0.12
    values, names = np.array([4], np.uint8), ("bar",)
    assert (AutomaticRule().labels(bar, names, values) == 4).sum() == 100 + 128
    kept = AutomaticRule(max_axis_ratio={"bar": 0.4}).labels(bar, names, values) == 4
    assert kept.sum() == 128 and kept[25:29, 4:36].all()


def test_segment_labels_every_pixel_with_a_taxonomy_value(assistant, sim):
    labels = assistant.segment(sim.cutout)
    assert labels.shape == (64, 64) and labels.dtype == np.uint8
    assert set(np.unique(labels).tolist()) <= set(assistant.taxonomy.values)
    assert assistant.image_shape == (64, 64)


def test_segment_many_batches_cutouts_of_any_size_like_segment(assistant, sim):
    rng = np.random.default_rng(3)
    odd = Cutout.from_array(rng.normal(size=(1, 40, 72)).astype(np.float32), ["VIS"])
    other = simulate_galaxy(12, size=64, features=("shell",)).cutout
    cutouts = [sim.cutout, odd, other, sim.cutout]
    results = assistant.segment_many(cutouts, embed=True)
    assert len(results) == 4
    names = {c.name for c in assistant.config.classes}
    for cutout, result in zip(cutouts, results, strict=True):
        np.testing.assert_array_equal(result.labels, assistant.segment(cutout))
        assert set(result.confidence) == names
        for feature in assistant.config.classes:
            labelled = (result.labels == feature.value).any()
            assert not labelled or result.confidence[feature.name] >= assistant.threshold
        assert result.embedding.dtype == np.float32
        assert result.embedding.shape == (assistant.network.encoder.feature_info.channels()[-1],)
    np.testing.assert_allclose(results[0].embedding, results[3].embedding, rtol=1e-5)
    assert not np.allclose(results[0].embedding, results[2].embedding)
    assert assistant.segment_many([sim.cutout])[0].embedding is None


@pytest.mark.parametrize(
    ("bands", "shape"),
    [
        (("VIS",), (48, 72)),  # one band, padded to the stride
        (("g", "z"), (64, 64)),  # two bands: their mean is the middle channel
        (("g", "r", "i", "z", "y"), (40, 40)),  # five bands: last, middle, first
        (("g", "r", "z"), (700, 300)),  # larger than the working size: shrunk
    ],
)
def test_any_bands_and_size_complete_at_the_cutout_shape(assistant, bands, shape):
    data = np.random.default_rng(1).normal(size=(len(bands), *shape)).astype(np.float32)
    cutout = Cutout.from_array(data, bands)
    assistant.set_image(cutout)
    positive = np.zeros(shape, bool)
    positive[shape[0] // 2, 5 : shape[1] // 2] = True
    completion = assistant.complete(positive, np.zeros(shape, bool), "shell")
    assert completion.mask.shape == shape
    assert assistant.segment(cutout).shape == shape


def test_model_input_uses_the_display_stretch():
    cutout = simulate_galaxy(5, survey="hsc", size=48).cutout
    x = model_input(cutout, Preprocessing(mean=(0.1, 0.2, 0.3), std=(0.5, 0.5, 0.5)))
    planes = normalize(cutout.data[::-1], "lsb")  # reddest band first, as the display's red
    expected = (planes - np.array([0.1, 0.2, 0.3])[:, None, None]) / 0.5
    np.testing.assert_allclose(x, expected, atol=1e-6)


# -------------------------------------------------------------------- cache
def test_a_second_set_image_of_the_same_cutout_does_not_run_the_encoder(assistant, sim):
    calls = count_encoder_calls(assistant)
    other = simulate_galaxy(9, size=64).cutout
    assistant.set_image(sim.cutout)
    assistant.set_image(sim.cutout)
    assert calls[0] == 1
    assistant.set_image(other)
    assistant.set_image(sim.cutout)
    assert calls[0] == 2
    same_pixels = Cutout.from_array(np.array(sim.cutout.data), sim.cutout.bands)
    assistant.set_image(same_pixels)  # another object, the same content hash
    assert calls[0] == 2


def test_the_cache_key_includes_the_checkpoint_identity(folder, checkpoint_path, sim):
    other_path = folder / "other.safetensors"
    checkpoint = read_checkpoint(checkpoint_path)
    network = checkpoint.network()
    with torch.no_grad():
        next(network.encoder.parameters()).add_(0.5)
    save_checkpoint(other_path, network, checkpoint.config)
    shared = FeatureCache()
    first = load_assistant(checkpoint_path, device="cpu", cache=shared)
    second = load_assistant(other_path, device="cpu", cache=shared)
    assert first.identity != second.identity
    calls = count_encoder_calls(second)
    first.set_image(sim.cutout)
    second.set_image(sim.cutout)
    assert calls[0] == 1 and len(shared) == 2
    alone = load_assistant(other_path, device="cpu")
    alone.set_image(sim.cutout)
    positive, negative = stroke_of(sim.truth, 1), np.zeros((64, 64), bool)
    np.testing.assert_array_equal(
        second.complete(positive, negative, 1).probability,
        alone.complete(positive, negative, 1).probability,
    )


# ------------------------------------------------------------------ devices
def test_auto_device_is_cuda_only_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error(checkpoint_path):
    with pytest.raises(GalsegError, match="CUDA is not available"):
        load_assistant(checkpoint_path, device="cuda")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(GalsegError, match="device"):
        resolve_device("abacus")


# --------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, checkpoint_path, sim):
    original = read_checkpoint(checkpoint_path)
    copy = tmp_path / "copy.safetensors"
    saved = save_checkpoint(copy, original.network(), original.config, {"note": "copy"})
    again = read_checkpoint(copy)
    assert again.identity == saved.identity == original.identity  # same weights, same config
    assert again.config == original.config and again.card["note"] == "copy"
    for name, tensor in original.tensors.items():
        assert torch.equal(tensor, again.tensors[name])
    outputs = []
    for path in (checkpoint_path, copy):
        assistant = load_assistant(path, device="cpu")
        assistant.set_image(sim.cutout)
        outputs.append(
            assistant.complete(stroke_of(sim.truth, 4), np.zeros((64, 64), bool), "bar").probability
        )
    np.testing.assert_array_equal(*outputs)


def test_the_model_card_records_training_and_the_weights_hash(checkpoint_path):
    checkpoint = read_checkpoint(checkpoint_path)
    card = json.loads(checkpoint_path.with_suffix(".json").read_text())
    assert card["sha256"] == checkpoint.identity
    assert card["config"]["architecture"] == "resnet10t"
    assert card["training"]["data"]["seeds"] == [500_000, 500_005]
    assert card["training"]["data"]["sky_residuals"] is False  # opt-in for heads
    assert card["training"]["steps"] == 2


def test_a_card_of_other_weights_is_refused(tmp_path, checkpoint_path):
    checkpoint = read_checkpoint(checkpoint_path)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, checkpoint.network(), checkpoint.config)
    card = json.loads(path.with_suffix(".json").read_text())
    card["sha256"] = "0" * 64
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(GalsegError, match="other weights"):
        read_checkpoint(path)


def test_unreadable_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(GalsegError, match="no such checkpoint"):
        read_checkpoint(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(GalsegError, match="not a readable safetensors"):
        read_checkpoint(tmp_path / "junk.safetensors")
    save_file({"w": torch.zeros(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(GalsegError, match="not a galseg checkpoint"):
        read_checkpoint(tmp_path / "plain.safetensors")
    with pytest.raises(GalsegError, match=r"\.safetensors"):
        save_checkpoint(tmp_path / "x.pt", build_network(ModelConfig()), ModelConfig())


def test_an_encoder_checkpoint_is_not_an_assistant(encoder_path):
    with pytest.raises(GalsegError, match="only an encoder.*galseg train head"):
        load_assistant(encoder_path, device="cpu")


def test_a_missing_shipped_checkpoint_says_how_to_train_it(tmp_path, monkeypatch):
    monkeypatch.setattr(_assistant, "SHIPPED_CHECKPOINT", tmp_path / "none.safetensors")
    with pytest.raises(GalsegError, match="galseg train encoder"):
        load_assistant()


# ---------------------------------------------------- timm Hugging Face layout
def make_timm_folder(path: Path, weights: str = "model.safetensors", arch="resnet10t") -> Path:
    """An encoder folder as Zoobot publishes them: greyscale, own mean and std, a classifier."""
    path.mkdir()
    model = timm.create_model(arch, num_classes=5, in_chans=1)
    state = model.state_dict()
    if weights.endswith(".safetensors"):
        save_file(state, path / weights)
    else:
        torch.save(state, path / weights)
    cfg = {
        "input_size": [1, 224, 224],
        "mean": [0.3],
        "std": [0.2],
        "num_classes": 5,
        "classifier": "fc",
        "interpolation": "bicubic",
    }
    config = {"architecture": "resnet10t", "num_classes": 5, "pretrained_cfg": cfg}
    (path / "config.json").write_text(json.dumps(config))
    return path


def test_an_encoder_in_timm_layout_loads_with_its_weights_and_preprocessing(tmp_path):
    folder = make_timm_folder(tmp_path / "zoobot-like")
    encoder = read_timm_folder(folder)
    assert encoder.architecture == "resnet10t" and encoder.out_indices == (0, 1, 2, 3)
    prep = encoder.preprocessing
    assert (prep.in_chans, prep.mean, prep.std) == (1, (0.3,), (0.2,))
    module = encoder.create()
    saved = encoder.state_dict["conv1.0.weight"]
    assert torch.equal(module.state_dict()["conv1.0.weight"], saved)
    cutout = simulate_galaxy(2, size=48).cutout
    expected = (normalize(cutout, "lsb").mean(axis=0) - 0.3) / 0.2
    np.testing.assert_allclose(model_input(cutout, prep)[0], expected, atol=1e-5)


def test_a_head_trained_on_a_timm_folder_keeps_its_preprocessing(tmp_path, sim):
    folder = make_timm_folder(tmp_path / "enc")
    out = tmp_path / "zoo.safetensors"
    train_head(out, folder, steps=1, **TINY)
    assistant = load_assistant(out, device="cpu")
    assert assistant.config.preprocessing.mean == (0.3,)
    assistant.set_image(sim.cutout)  # three bands into a greyscale encoder
    assert assistant.complete(stroke_of(sim.truth, 1), sim.truth == 4, 1).mask.shape == (64, 64)


def test_bad_timm_folders_are_clear_errors(tmp_path):
    with pytest.raises(GalsegError, match="not a folder"):
        read_timm_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GalsegError, match="no config.json"):
        read_timm_folder(tmp_path / "empty")
    folder = make_timm_folder(tmp_path / "b")
    (folder / "model.safetensors").unlink()
    with pytest.raises(GalsegError, match="no weights"):
        read_timm_folder(folder)
    folder = make_timm_folder(tmp_path / "c", arch="resnet14t")  # weights of another net
    with pytest.raises(GalsegError, match="do not fit resnet10t"):
        read_timm_folder(folder)
    folder = make_timm_folder(tmp_path / "d")
    (folder / "config.json").write_text(json.dumps({"architecture": "no_such_net_v9"}))
    with pytest.raises(GalsegError, match="architecture"):
        read_timm_folder(folder)


# ----------------------------------------------------------------- bad input
def test_bad_inputs_to_the_assistant_are_clear_errors(checkpoint_path, sim):
    assistant = load_assistant(checkpoint_path, device="cpu")
    empty = np.zeros((64, 64), bool)
    with pytest.raises(GalsegError, match="set_image"):
        assistant.complete(empty, empty, 1)
    with pytest.raises(GalsegError, match="Cutout"):
        assistant.set_image(sim.cutout.data)
    assistant.set_image(sim.cutout)
    with pytest.raises(GalsegError, match=r"shape \(32, 32\)"):
        assistant.complete(np.zeros((32, 32), bool), empty, 1)
    with pytest.raises(GalsegError, match="unknown class 'spiral'"):
        assistant.complete(empty, empty, "spiral")
    with pytest.raises(GalsegError, match="unlabelled"):
        assistant.complete(empty, empty, 0)
    with pytest.raises(GalsegError, match=r"\[0, 1\]"):
        assistant.complete(empty, empty, 1, previous=np.full((64, 64), 2.0))
    with pytest.raises(GalsegError, match="previous completion has shape"):
        assistant.complete(empty, empty, 1, previous=np.zeros((3, 3)))


# ------------------------------------------------------------------- strokes
@pytest.mark.parametrize("seed", range(4))
def test_scribbles_lie_inside_the_truth_and_negatives_outside(seed, sim):
    rng = np.random.default_rng(seed)
    for value in (1, 4):
        target = sim.truth == value
        stroke = scribble(target, rng)
        assert stroke.any() and not (stroke & ~target).any()
        negative = negative_stroke(target, rng, other=(sim.truth != 0) & ~target)
        assert negative.any() and not (negative & target).any()
    assert not scribble(np.zeros((8, 8), bool), rng).any()


def test_next_stroke_goes_into_the_largest_error():
    target = np.zeros((40, 40), bool)
    target[5:35, 5:15] = True
    missing = target.copy()
    missing[5:35, 10:15] = False  # misses a 30x5 strip
    stroke, positive = next_stroke(target, missing, np.random.default_rng(0))
    assert positive and stroke.any() and not (stroke & ~(target & ~missing)).any()
    spilling = target.copy()
    spilling[5:35, 15:30] = True  # spills a 30x15 strip
    spilling[20, 5] = False  # and misses one pixel
    stroke, positive = next_stroke(target, spilling, np.random.default_rng(0))
    assert not positive and stroke.any() and not (stroke & ~(spilling & ~target)).any()
    stroke, positive = next_stroke(target, target, np.random.default_rng(0))
    assert not stroke.any()


# ------------------------------------------------------------------ training
def test_head_training_lowers_the_loss_on_a_fixed_batch(encoder_path, sim):
    checkpoint = read_checkpoint(encoder_path)
    torch.manual_seed(0)
    network = checkpoint.network(head=False)
    network.train()
    network.encoder.eval()
    images = torch.from_numpy(model_input(sim.cutout, checkpoint.config.preprocessing)[None])
    optimizer = torch.optim.Adam(network.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        rng = np.random.default_rng(1)  # the same episode every time
        plan = _train.EpisodePlan(rounds=1, empty_fraction=0.0, sky_fraction=0.0)
        return plan.loss(network, images, [sim.truth], checkpoint.config, rng)

    with torch.no_grad():
        before = float(loss())
    for _ in range(15):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    with torch.no_grad():
        after = float(loss())
    assert after < 0.8 * before


def test_training_resumes_where_it_was_interrupted(tmp_path):
    out = tmp_path / "enc.safetensors"
    options = {"n": 4, "size": 32, "steps": 6, "batch": 2, "device": "cpu"}

    def interrupt(done, total):
        if total == 6 and done == 4:  # the training steps, not the simulation
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_encoder(out, progress=interrupt, **options)
    assert (tmp_path / "enc.resume.pt").exists() and not out.exists()
    with pytest.raises(GalsegError, match="other settings"):
        train_encoder(out, **{**options, "lr": 1e-2})
    resumed = train_encoder(out, **options)
    assert resumed.resumed_at == 4 and not (tmp_path / "enc.resume.pt").exists()
    straight = train_encoder(tmp_path / "straight.safetensors", **options)
    np.testing.assert_allclose(resumed.losses, straight.losses, rtol=1e-4)


def test_training_refuses_held_out_seeds_and_bad_sizes(tmp_path, encoder_path):
    with pytest.raises(GalsegError, match="held out"):
        train_encoder(tmp_path / "e.safetensors", seed=gm.HELD_OUT_SEEDS - 2, steps=1, **TINY)
    with pytest.raises(GalsegError, match="multiple of the network stride"):
        train_head(tmp_path / "h.safetensors", encoder_path, **{**TINY, "size": 72}, steps=1)


# ------------------------------------------------------------------ finetune
@pytest.fixture(scope="module")
def store(folder):
    store = MaskStore.open(folder / "masks.zarr")
    for seed in range(8):
        kind = ("tidal_stream", "shell", "bar")[seed % 3]
        sim = simulate_galaxy(seed, size=64, features=(kind,), feature_sb=25.0)
        store.save_mask(store.add_cutout(sim.cutout), sim.truth, "ada")
    return store


def test_finetune_scores_held_back_cutouts_and_writes_a_loadable_checkpoint(
    store, checkpoint_path, tmp_path
):
    assert {held_back(i, 0.5) for i in store.ids()} == {True, False}
    out = tmp_path / "tuned.safetensors"
    report = finetune(
        store, checkpoint_path, out, steps=2, batch=2, holdout=0.5, device="cpu", force=True
    )
    assert report.n_train + report.n_held_back == 8 and report.n_scored > 0
    assert 0.0 <= report.score_before <= 1.0 and 0.0 <= report.score_after <= 1.0
    assistant = load_assistant(out, device="cpu")
    assert assistant.identity == read_checkpoint(out).identity
    card = read_checkpoint(out).card["training"]["finetune"]
    assert card["held_back_score"]["after"] == report.score_after
    assert card["n_held_back"] == report.n_held_back


def test_the_loss_ignores_pixels_a_mask_carries_no_information_for():
    torch.manual_seed(0)
    logits = torch.randn(2, 16, 16, requires_grad=True)
    targets = torch.zeros(2, 16, 16)
    targets[:, 4:12, 2:9] = 1.0
    known = torch.ones(2, 16, 16)
    known[0, :, 8:] = 0.0  # half of the first mask was never covered
    _train._mask_loss(logits, targets, known).backward()
    assert not logits.grad[known == 0].any() and logits.grad[known == 1].abs().min() > 0
    with torch.no_grad():  # whatever the model says there, the loss is the same
        other = logits.clone()
        other[known == 0] = 10.0
        assert _train._mask_loss(other, targets, known) == _train._mask_loss(logits, targets, known)
        # and with everything known it is the plain loss
        plain = _train._mask_loss(logits, targets)
        assert _train._mask_loss(logits, targets, torch.ones_like(known)) == pytest.approx(
            float(plain), rel=1e-5
        )


def test_finetune_learns_a_transferred_mask_only_where_it_covers(
    store, checkpoint_path, tmp_path, monkeypatch
):
    """A mask carried from a survey that saw only the left half of a cutout says nothing
    about the right half: the episodes and the loss see only the covered pixels."""
    from galseg import write_cutout
    from galseg.transfer import transfer_masks

    tuned = MaskStore.open(tmp_path / "tuned.zarr")
    for cutout_id in store.ids()[:3]:
        copy = tuned.add_cutout(store.cutout(cutout_id))
        tuned.save_mask(copy, store.load_mask(cutout_id), "ada")
    sim = simulate_galaxy(41, size=64, features=("tidal_tail",), feature_sb=25.0)
    half = MaskStore.open(tmp_path / "half.zarr")
    left = Cutout.from_array(sim.cutout.data[:, :, :32], sim.cutout.bands, wcs=sim.cutout.wcs)
    half.save_mask(half.add_cutout(left), sim.truth[:, :32], "ada")
    write_cutout(sim.cutout, tmp_path / "whole.fits")
    transfer_masks(half, [tmp_path / "whole.fits"], tuned.path)
    assert sim.cutout.content_hash[:16] not in _train.held_back_ids(tuned.ids(), 1e-9)  # trained on

    seen = []
    real = _train.EpisodePlan.loss

    def loss(self, network, images, truths, config, rng, known=None):
        seen.extend(known)
        return real(self, network, images, truths, config, rng, known)

    monkeypatch.setattr(_train.EpisodePlan, "loss", loss)
    out = tmp_path / "tuned.safetensors"
    finetune(tuned, checkpoint_path, out, steps=6, batch=4, holdout=1e-9, device="cpu", force=True)
    partial = [k for k in seen if not k.all()]
    assert partial and len(partial) < len(seen)
    for known in partial:  # about the left half, turned and flipped with the image
        assert 0.4 < known.mean() < 0.6


def test_finetune_refuses_to_overwrite_its_start_or_to_train_on_one_cutout(
    store, checkpoint_path, tmp_path
):
    with pytest.raises(GalsegError, match="not over it"):
        finetune(store, checkpoint_path, checkpoint_path, steps=1, device="cpu")
    single = MaskStore.open(tmp_path / "single.zarr")
    cutout_id = store.ids()[0]
    single.add_cutout(store.cutout(cutout_id))
    single.save_mask(cutout_id, store.load_mask(cutout_id, "ada"), "ada")
    with pytest.raises(GalsegError, match="single.zarr: masks on 1 cutout.*two or more"):
        finetune(single, checkpoint_path, tmp_path / "x.safetensors", steps=1, device="cpu")


def test_finetune_holds_back_a_cutout_even_when_the_fraction_picks_none(store, checkpoint_path):
    assert not any(held_back(i, 1e-9) for i in store.ids())
    out = checkpoint_path.with_name("small-holdout.safetensors")
    report = finetune(
        store, checkpoint_path, out, holdout=1e-9, steps=1, batch=2, device="cpu", force=True
    )
    assert (report.n_train, report.n_held_back) == (7, 1) and report.n_scored >= 1
    assert report.written and report.checkpoint == out and out.exists()


def test_finetune_never_overwrites_out_without_force(store, checkpoint_path, tmp_path):
    out = tmp_path / "mine.safetensors"
    out.write_bytes(b"an earlier model")
    with pytest.raises(GalsegError, match="mine.safetensors: exists already.*--force"):
        finetune(store, checkpoint_path, out, holdout=0.5, steps=1, device="cpu")
    assert out.read_bytes() == b"an earlier model"
    report = finetune(
        store, checkpoint_path, out, holdout=0.5, steps=1, batch=2, device="cpu", force=True
    )
    assert (
        report.written
        and read_checkpoint(out).identity != read_checkpoint(checkpoint_path).identity
    )


# ----------------------------------------------------------------------- CLI
def test_cli_trains_an_encoder_a_head_and_finetunes(tmp_path, store, capsys):
    enc, head, tuned = (tmp_path / f"{n}.safetensors" for n in ("enc", "head", "tuned"))
    common = ["--n", "4", "--size", "32", "--steps", "2", "--batch", "2", "--device", "cpu"]
    assert main(["train", "encoder", "--out", str(enc), *common]) == 0
    assert main(["train", "head", "--encoder", str(enc), "--out", str(head), *common]) == 0
    tune = ["--store", str(store.path), "--from", str(head), "--out", str(tuned)]
    tune += ["--steps", "1", "--holdout", "0.5", "--device", "cpu", "--force"]
    assert main(["finetune", *tune]) == 0
    out = capsys.readouterr().out
    assert "held back" in out and "->" in out and f"wrote {tuned}" in out
    assert (
        main(["train", "automatic", "--checkpoint", str(head), "--n", "1", "--device", "cpu"]) == 0
    )
    out = capsys.readouterr().out
    assert "least piece" in out and "featureless cutouts with a feature" in out
    assert read_checkpoint(head).card["automatic"]["calibration"]["featureless"] == 1
    card = read_checkpoint(head).card["training"]
    assert card["command"].startswith("galseg train head --encoder")
    load_assistant(tuned, device="cpu")


def test_cli_errors_are_one_line(tmp_path, capsys):
    missing, out = tmp_path / "missing.safetensors", tmp_path / "h.safetensors"
    command = ["train", "head", "--encoder", str(missing), "--out", str(out), "--device", "cpu"]
    assert main(command) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("galseg: error:") and "no such checkpoint" in err and "\n" not in err


@pytest.mark.parametrize(
    ("command", "function"),
    [("train encoder", train_encoder), ("train head", train_head), ("finetune", finetune)],
)
def test_cli_defaults_are_the_library_defaults(command, function):
    from galseg.cli import _parser

    required = {
        "train encoder": ["--out", "o.safetensors"],
        "train head": ["--out", "o.safetensors", "--encoder", "e"],
        "finetune": ["--store", "s", "--from", "a", "--out", "b"],
    }[command]
    args = vars(_parser().parse_args([*command.split(), *required]))
    defaults = {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    renamed = {"arch": "architecture"}
    shared = {renamed.get(k, k): v for k, v in args.items() if renamed.get(k, k) in defaults}
    assert shared and all(defaults[k] == v for k, v in shared.items() if k != "progress")
