"""Free-text columns: detection, the tokenizer fitted on the training split, its JSON, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from text_support import review_table

from conftest import assert_user_error, run_cli
from mtl.config import ExperimentConfig
from mtl.data.catalog import DataError
from mtl.data.prepare import prepare
from mtl.data.preprocessing import Preprocessing, PreprocessingFormatError
from mtl.data.text import UNKNOWN, TextSettings, Tokenizer, split_words


def config(path: Path, **data: object) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "data": {"dataset": "csv", "path": str(path), **data},
            "tasks": [{"name": "liked", "target": "liked"}],
            "train": {"epochs": 1},
        }
    )


@pytest.fixture
def reviews_csv(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    review_table().to_csv(path, index=False)
    return path


def test_free_text_becomes_a_text_input_and_ids_stay_out(reviews_csv: Path) -> None:
    data = prepare(config(reviews_csv))
    assert [t.column for t in data.text] == ["review"]
    assert data.input_columns == ["length", "review"]  # tabular first, then text
    assert any("'id' was left out" in w for w in data.warnings)
    assert not any("'review'" in w for w in data.warnings)
    tokenizer = data.text[0]
    assert data.input_shape == (1 + tokenizer.width,)
    # the ids follow the (scaled) tabular column and are whole numbers
    ids = data.train.x[:, 1:]
    np.testing.assert_array_equal(ids, np.round(ids))
    assert ids.max() < tokenizer.num_embeddings


def test_data_text_empty_turns_a_detected_column_off(reviews_csv: Path) -> None:
    data = prepare(config(reviews_csv, text=[]))
    assert data.text == [] and data.input_columns == ["length"]
    assert any("'review' was left out" in w and "data.text" in w for w in data.warnings)


def test_data_text_names_a_column_explicitly(tmp_path: Path) -> None:
    table = review_table()
    table["colour"] = np.where(np.arange(len(table)) % 2, "light red", "dark blue")  # 2 values
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    assert "colour" not in [t.column for t in prepare(config(path)).text]  # a category
    data = prepare(config(path, text=["colour"]))
    assert [t.column for t in data.text] == ["colour"]
    assert sorted(data.text[0].vocab) == ["blue", "dark", "light", "red"]


def test_vocabulary_is_fitted_on_the_training_split_only(tmp_path: Path) -> None:
    table = review_table()
    data = prepare(config(_write(tmp_path, table)))
    # a word only in test rows: unseen at fit time, so encoded as the unknown id
    table.loc[data.test.rows, "review"] = "zzzunseen " + table.loc[data.test.rows, "review"]
    table.loc[data.val.rows, "review"] = "valonly " + table.loc[data.val.rows, "review"]
    data = prepare(config(_write(tmp_path, table)))
    vocab = set(data.text[0].vocab)
    assert "zzzunseen" not in vocab and "valonly" not in vocab
    assert (data.test.x[:, 1] == UNKNOWN).all()  # first word slot of every test row
    assert (data.val.x[:, 1] == UNKNOWN).all()
    train_words = {w for text in table.loc[data.train.rows, "review"] for w in text.split()}
    assert vocab == {w for w in train_words}  # min_freq 2: every filler/sentiment word repeats


def test_tokenizer_settings() -> None:
    texts = ["Great film, great CAST!", "a dull film", None, "great"]
    tok = Tokenizer.fit("t", texts, TextSettings(min_freq=2, max_length=3, ngrams=1))
    assert tok.vocab == ["great", "film"]  # most frequent first; "," "cast" "!" … seen once
    ids = tok.encode(["great unknownword film film", None])
    np.testing.assert_array_equal(ids, [[2, UNKNOWN, 3], [0, 0, 0]])  # cut to max_length
    cased = Tokenizer.fit("t", texts, TextSettings(min_freq=1, lowercase=False, ngrams=1))
    assert "CAST" in cased.vocab and "Great" in cased.vocab
    assert split_words("Don't stop!", True) == ["don", "'", "t", "stop", "!"]


def test_hashed_ngrams_fill_the_extra_slots_the_same_way_each_time() -> None:
    settings = TextSettings(min_freq=1, max_length=4, ngrams=2, char_ngrams=True, buckets=50)
    tok = Tokenizer.fit("t", ["not good at all", "very good"], settings)
    ids = tok.encode(["not good", "not good"])
    assert tok.width == 8 and ids.shape == (2, 8)
    first_bucket = 2 + len(tok.vocab)
    extra = ids[0, 4:]
    assert ((extra >= first_bucket) & (extra < first_bucket + 50)).all()  # 1 pair + trigrams
    np.testing.assert_array_equal(ids[0], ids[1])
    # CRC-32 hashing: the ids are fixed numbers, not Python's per-process hash()
    assert (
        tok.encode(["not good"]).tolist()
        == Tokenizer.from_dict(tok.to_dict()).encode(["not good"]).tolist()
    )


def test_preprocessing_json_round_trip_reproduces_the_prepared_rows(reviews_csv: Path) -> None:
    data = prepare(config(reviews_csv))
    saved = Preprocessing.from_json(
        Preprocessing.from_fitted(data.preprocessor, data.text).to_json()
    )
    assert saved.text == data.text
    rows = pd.read_csv(reviews_csv).iloc[data.test.rows].reset_index(drop=True)
    np.testing.assert_allclose(saved.transform(rows), data.test.x, rtol=1e-6)
    assert saved.feature_names == data.feature_names


def test_damaged_text_in_preprocessing_json_is_refused(reviews_csv: Path) -> None:
    data = prepare(config(reviews_csv))
    saved = json.loads(Preprocessing.from_fitted(data.preprocessor, data.text).to_json())
    saved["text"][0]["max_length"] = "64"
    with pytest.raises(PreprocessingFormatError, match="max_length"):
        Preprocessing.from_json(json.dumps(saved))
    del saved["text"]  # a file from before text inputs: still read, without text
    assert Preprocessing.from_json(json.dumps(saved)).text == []


def test_all_missing_text_column_named_in_data_text(tmp_path: Path) -> None:
    table = review_table()
    table["notes"] = np.nan
    with pytest.raises(DataError, match="data.text: text column 'notes' has no words"):
        prepare(config(_write(tmp_path, table), text=["review", "notes"]))


def test_single_word_vocabulary_is_refused_by_name(tmp_path: Path) -> None:
    table = review_table()
    table["status"] = "ok"
    with pytest.raises(DataError, match="'status' has a single distinct word"):
        prepare(config(_write(tmp_path, table), text=["status"]))


def test_text_only_table_without_words_in_training_is_one_cli_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    table = review_table()[["review", "liked"]]
    table["review"] = "same"
    table.to_csv(path, index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"data: {{dataset: csv, path: {path}, text: [review]}}\n"
        "tasks: [{name: liked, target: liked}]\n"
    )
    assert_user_error(run_cli("run", str(cfg)), "single distinct word", "'review'")


def _write(tmp_path: Path, table: pd.DataFrame) -> Path:
    path = tmp_path / "table.csv"
    table.to_csv(path, index=False)
    return path


def test_a_text_model_too_large_to_train_names_the_text_settings(reviews_csv: Path) -> None:
    from mtl.errors import ConfigError
    from mtl.train.trainer import preflight

    cfg = config(reviews_csv, text_buckets=1_000_000, text_embedding=1024, text_ngrams=2)
    with pytest.raises(ConfigError, match="data.text_embedding, data.text_buckets"):
        preflight(cfg, prepare(cfg))
