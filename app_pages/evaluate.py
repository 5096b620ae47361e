"""Evaluate: a finished run's test results per task, its predictions and its checkpoint."""

import numpy as np
import pandas as pd
import streamlit as st

from mtl.config import ExperimentConfig
from mtl.csv_safe import to_csv
from mtl.errors import SweepError
from mtl.runs.scheduler import max_running_limit
from mtl.runs.status import RunStatus
from mtl.study.baseline import active_baseline, ensure_baseline, find_baseline, run_delta
from mtl.study.delta import describe_metrics
from mtl.study.grouping import GROUPING_TAG, best_partition, group_configs
from mtl.study.verdict import QUICK_VERDICT, start_verdict
from mtl.train.predictions import prediction_path, read_predictions
from mtl.ui import session
from mtl.ui.predict import PredictError, predict_upload
from mtl.ui.verdict_cost import verdict_cost
from mtl.viz.evaluation import (
    confusion_figure,
    pair_heatmap,
    pred_actual_figure,
    residuals_figure,
    roc_figure,
)
from mtl.viz.labels import markdown_text, metric_label
from mtl.viz.overfitting import gap_sentence, kept_epoch, loss_gap
from mtl.viz.report import report_html
from mtl.viz.runs_table import lineage_text
from mtl.viz.summaries import pair_matrix

DELTA_LATEX = (
    r"\Delta_m = \frac{100\,\%}{T} \sum_{t=1}^{T} \frac{1}{M_t} \sum_{m=1}^{M_t} "
    r"s_m \, \frac{M_{t,m} - B_{t,m}}{\lvert B_{t,m} \rvert}"
)
# Δm (Maninis et al. 2019) typeset: the formula of mtl.study.delta.FORMULA. (Comments, not bare
# strings, on pages: Streamlit's "magic" would print a string literal.)


def file_part(text: str) -> str:
    """A user string made safe inside a download's file name."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:60] or "task"


presenting = session.presenting()
st.title("Evaluate")
ENDED = (RunStatus.FINISHED, RunStatus.STOPPED)  # the runs with test results to show
run_id = session.run_from_query(ENDED) if presenting else session.pick_run("evaluate", ENDED)
if run_id is None:
    st.stop()
store = session.store()
run = store.get_run(run_id)
folder = store.run_dir(run_id)
summary = run["summary"] or {}
test = summary.get("test") or {}
if not test:
    st.info("This run has no test results (it ended before its final evaluation).")
    st.stop()

if presenting:
    st.subheader(f"Test results of {markdown_text(run['name'])}")
else:
    session.presenter_link("evaluate", {"run": run_id})
if run.get("parent"):  # transfer learning: which run's weights this one started from
    parent = store.list_runs().set_index("id")["name"].get(run["parent"])
    st.text(f"Initialised from run {lineage_text(run['parent'], parent)}")
st.subheader("Test metrics per task")
kinds = {t["name"]: t.get("kind") for t in run["config"]["tasks"]}
for group, members in (
    ("Classification", [t for t in test if kinds.get(t) != "regression"]),
    ("Regression", [t for t in test if kinds.get(t) == "regression"]),
):
    if not members:
        continue  # one table per kind: no column of metrics that do not apply
    table = pd.DataFrame(
        {t: {k: v for k, v in test[t].items() if k != "undefined"} for t in members}
    ).T
    table = table.dropna(axis=1, how="all").rename(columns=metric_label)
    table.index.name = f"{group.lower()} task"
    st.dataframe(
        table,
        width="stretch",
        placeholder="—",  # "—": undefined here (see below)
        column_config={c: st.column_config.NumberColumn(format="%.4f") for c in table.columns},
    )
for task, values in test.items():
    for metric, reason in (values.get("undefined") or {}).items():
        st.caption(
            f"{markdown_text(task)} · {metric_label(metric)} is undefined: {markdown_text(reason)}"
        )

st.subheader("Is multi-task learning worth it here?")
config = ExperimentConfig.from_dict(run["config"])
if config.model.sharing == "independent":
    st.caption("This run is itself a single-task model (independent architecture).")
else:
    baseline_id = find_baseline(store, config)
    if baseline_id is None:
        active = active_baseline(store, config)
        if active is not None:
            st.info(
                f"The single-task baseline {active[0]} is {active[1]}; Δm appears here when it finishes."
            )
            session.refresh_while_pending([active[0]])
        elif presenting:
            st.caption("No single-task baseline has been trained for this run yet.")
        elif st.button(
            "Train the single-task baseline",
            key="ev.baseline",
            help="The independent architecture with the same data, tasks, "
            "encoder size and training settings",
        ):
            made = ensure_baseline(store, run_id, detach=True, warm=True)
            st.toast(f"Baseline {made.run_id}: {made.status}")
            st.rerun()
    else:
        delta = run_delta(store, run_id, baseline_id)
        if delta is not None and delta.value is not None:
            st.metric(
                "Δm against the single-task baseline",
                f"{delta.value:+.2f} %",
                help="Above 0: the multi-task model is better on average.",
            )
            changes = delta.tasks_frame().rename(
                columns={"change": "change (%)", "excluded": "left out because"}
            )
            changes = changes.dropna(axis=1, how="all")
            st.dataframe(
                changes,
                hide_index=True,
                width="stretch",
                placeholder="—",
                column_config={"change (%)": st.column_config.NumberColumn(format="%+.2f")},
            )
        elif delta is not None:
            st.info(markdown_text(delta.describe()))
        st.latex(DELTA_LATEX)
        st.caption(
            f"T tasks; M_t metrics of task t; B is the single-task baseline ({baseline_id}); s_m is +1 "
            f"when higher is better and −1 when lower is better. Metrics used: {describe_metrics()}. A "
            "baseline value of 0 leaves that metric out (division by zero)."
        )

ASK_VERDICT = "ev.verdict.ask"  # the run whose verdict waits for the user's confirmation


def confirm_verdict() -> None:
    """The verdict's size (runs, epochs, about how long) and a button that starts it."""
    try:
        cost = verdict_cost(config, QUICK_VERDICT, run, max_running_limit())
    except (SweepError, ValueError) as err:
        st.error(f"The verdict cannot start: {markdown_text(err)}")
        return
    with st.container(border=True):
        st.text(cost.describe())
        st.caption(
            "Other seeds, methods or epochs: start a verdict on the Verdict page, from a preset or "
            "the Experiment setup."
        )
        start, cancel, elsewhere = st.columns([2, 1, 2], vertical_alignment="center")
        if start.button(f"Start {cost.total} runs", type="primary", key="ev.verdict.start"):
            st.session_state.pop(ASK_VERDICT, None)
            try:
                verdict_id = start_verdict(store, config, QUICK_VERDICT, warm=True)
            except (SweepError, ValueError) as err:
                st.error(f"The verdict cannot start: {markdown_text(err)}")
            else:
                st.switch_page("app_pages/verdict.py", query_params={"verdict": verdict_id})
        if cancel.button("Cancel", key="ev.verdict.cancel"):
            st.session_state.pop(ASK_VERDICT, None)
            st.rerun()
        elsewhere.page_link("app_pages/verdict.py", label="Open the Verdict page")


if not presenting and config.model.sharing != "independent" and len(config.tasks) > 1:
    if st.button(
        "Verdict: does it beat seed noise and a tuned equal sum?",
        key="ev.verdict",
        help="Baselines, tuned equal weighting, a few methods and a static-weight front, "
        "over several seeds with this run's data, tasks and encoder: shows how many runs "
        "and about how long first, then asks to start",
    ):
        st.session_state[ASK_VERDICT] = run_id
    if st.session_state.get(ASK_VERDICT) == run_id:
        confirm_verdict()

metrics = store.metrics(run_id)
st.subheader("Overfitting: training vs validation loss")
stopping = run["config"]["train"].get("early_stopping")
kept = kept_epoch(summary, stopping is not None)
st.caption(
    f"Early stopping (after {stopping} epochs without progress) kept the weights of epoch {kept}."
    if stopping
    else f"No early stopping: the weights are the last epoch's ({kept})."
)
gaps = loss_gap(metrics, kept)
st.dataframe(gaps, hide_index=True, width="stretch", placeholder="—")
st.text(gap_sentence(gaps))
affinity = pair_matrix(metrics, "affinity_mean", list(kinds))
if affinity.notna().any().any():
    st.subheader("Inter-task affinity (averaged over training)")
    st.caption(
        "Z(i→j) = 1 − L_j after a step on task i / L_j before it (Fifty et al. 2021): above 0, a step "
        "on the row's task also lowered the column task's loss."
    )
    st.plotly_chart(
        pair_heatmap(affinity, title="Affinity: row task → column task", value_name="affinity"),
        width="stretch",
        key="ev.affinity",
    )
    if len(kinds) >= 3 and not affinity.isna().to_numpy()[~np.eye(len(kinds), dtype=bool)].any():
        k = st.slider("Groups", 2, len(kinds) - 1, 2, key="ev.groups")
        grouping = best_partition(affinity, k)
        st.text(
            "Suggested grouping (highest total affinity): "
            + " | ".join(" + ".join(group) for group in grouping.groups)
        )
        if not presenting and st.button(
            "Train the suggested groups",
            key="ev.group.train",
            help="One run per group of tasks, beside this run (all together) and the single-task "
            "baseline (every task alone); compare them on the Compare page",
        ):
            launched = [session.launch_run(c) for c in group_configs(config, grouping.groups)]
            for group_run in launched:
                store.add_tags(group_run, [GROUPING_TAG])
            ensure_baseline(store, run_id, detach=True, warm=True)
            st.switch_page(
                "app_pages/compare.py", query_params={"runs": ",".join([run_id, *launched])}
            )
tabs = st.tabs([markdown_text(task) for task in test])
for tab, task in zip(tabs, test, strict=True):
    with tab:
        try:
            frame = read_predictions(folder, task)
        except ValueError as err:  # damaged file, or a task name that is no plain file name
            st.error("The prediction file of this task cannot be read:")
            st.text(str(err))
            continue
        if frame is None:
            st.info("No prediction file for this task.")
            continue
        path = prediction_path(folder, task)
        labelled = frame.dropna(
            subset=[c for c in frame.columns if c == "true" or c.startswith("true_")]
        )
        if "pred" in frame.columns:  # classification
            classes = [c.removeprefix("p_") for c in frame.columns if c.startswith("p_")]
            left, right = st.columns(2)
            left.plotly_chart(
                confusion_figure(
                    labelled["true"].astype(str), labelled["pred"].astype(str), classes
                ),
                width="stretch",
                key=f"ev.cm.{task}",
            )
            proba = labelled[[f"p_{c}" for c in classes]].set_axis(classes, axis=1)
            right.plotly_chart(
                roc_figure(labelled["true"].astype(str), proba, classes),
                width="stretch",
                key=f"ev.roc.{task}",
            )
        else:
            targets = [c.removeprefix("pred_") for c in frame.columns if c.startswith("pred_")]
            for target in targets:
                left, right = st.columns(2)
                true, pred = labelled[f"true_{target}"], labelled[f"pred_{target}"]
                left.plotly_chart(
                    pred_actual_figure(true, pred, title=f"{target}: predicted vs actual"),
                    width="stretch",
                    key=f"ev.pa.{task}.{target}",
                )
                right.plotly_chart(
                    residuals_figure(true, pred), width="stretch", key=f"ev.res.{task}.{target}"
                )
        st.download_button(
            f"Test predictions for {markdown_text(task)} (CSV)",
            path.read_bytes(),
            file_name=f"{run_id}-{file_part(task)}.csv",
            mime="text/csv",
            key=f"ev.csv.{task}",
        )

st.subheader("Predict on new data")
if config.data.dataset == "images":
    st.caption(
        "Upload a zip of images (labels.csv optional); every task is predicted "
        "(classes with their probabilities, values in original units)."
    )
    upload = st.file_uploader("Zipped images to predict", type=["zip"], key=f"ev.predict.{run_id}")
else:
    st.caption(
        "Upload a CSV with the columns the run was trained on (text columns included); every "
        "task is predicted (classes with their probabilities, values in original units)."
    )
    upload = st.file_uploader("CSV to predict", type=["csv"], key=f"ev.predict.{run_id}")
if upload is not None:
    try:
        with st.spinner("Predicting…"):
            table, notes = predict_upload(
                store.home, run_id, upload.getvalue(), filename=upload.name
            )
    except PredictError as err:
        st.error(f"These rows cannot be predicted: {markdown_text(err)}")
    else:
        for note in notes:
            st.warning(markdown_text(note))
        st.dataframe(table, hide_index=True, width="stretch")
        st.download_button(
            "Download the predictions (CSV)",
            to_csv(table),
            file_name=f"{run_id}-predictions.csv",
            mime="text/csv",
            key="ev.predict.csv",
        )

if not presenting:
    st.download_button(
        "Report (self-contained HTML: charts, config, metrics, Δm, notes)",
        lambda: report_html(store, [run_id]),
        file_name=f"{run_id}-report.html",
        mime="text/html",
        key="ev.report",
    )

checkpoint = folder / "checkpoint.pt"
if checkpoint.exists():
    st.download_button(
        "Download the trained model (weights and config)",
        checkpoint.read_bytes,
        file_name=f"{run_id}-checkpoint.pt",
        key="ev.checkpoint",
    )
