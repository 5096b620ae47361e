"""The movie-reviews preset on real text against a TF-IDF + logistic-regression reference.

Default settings, fixed seeds, a fixed 4,000-row sample (``data.options.rows``) to keep the
test short. The reference is scikit-learn's TF-IDF + LogisticRegression, 5-fold
cross-validated on the same rows' ``text`` column; each classification task must reach at
least 90% of its accuracy. Text and the tabular column together must do at least as well as
the tabular column alone (``data.text: []``), here where the tabular column (the movie)
really carries signal of its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from mtl import presets
from mtl.data.catalog import get_dataset
from mtl.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

ROWS = 4000
TASKS = ("sentiment", "passage")


def test_accuracy(overrides: dict[str, Any]) -> dict[str, float]:
    config = presets.load("movie-reviews").with_overrides({"data.options.rows": ROWS, **overrides})
    trainer = Trainer(config)
    trainer.fit()
    return {task: m["accuracy"] for task, m in trainer.evaluate("test").items()}


test_accuracy.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def reference_accuracy(task: str) -> float:
    frame = get_dataset("movie-reviews").frame("movie-reviews", {"rows": ROWS})
    labelled = frame[frame[task].notna()]
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    return float(cross_val_score(model, labelled["text"], labelled[task], cv=folds).mean())


@pytest.fixture(scope="module")
def with_text() -> dict[str, float]:
    return test_accuracy({})


def test_the_dataset_is_real_text_with_two_tasks() -> None:
    frame = get_dataset("movie-reviews").frame("movie-reviews", {})
    assert len(frame) == 13_905
    assert set(frame["sentiment"].dropna()) == {"fresh", "rotten"}
    assert frame["passage"].value_counts().to_dict() == {"review": 12_808, "plot": 1_097}
    assert frame["sentiment"].isna().sum() == 1_097  # plot summaries: no sentiment label
    assert "bad" in " ".join(frame["text"].head(2000)).split()


@pytest.mark.parametrize("task", TASKS)
def test_each_task_reaches_90_percent_of_tfidf_logistic_regression(
    with_text: dict[str, float], task: str
) -> None:
    reference = reference_accuracy(task)
    assert with_text[task] >= 0.9 * reference, (task, with_text[task], reference)


def test_text_and_tabular_together_beat_tabular_alone(with_text: dict[str, float]) -> None:
    tabular = test_accuracy({"data.text": []})  # movie_name only
    for task in TASKS:
        assert with_text[task] >= tabular[task], (task, with_text, tabular)
    assert with_text["sentiment"] > tabular["sentiment"]
