"""Compare: every run in one table; overlay the curves of the runs you select."""

import pandas as pd
import streamlit as st

from mtl.csv_safe import to_csv
from mtl.runs.status import ACTIVE
from mtl.runs.store import RunStore
from mtl.ui import session
from mtl.viz.colors import run_colors
from mtl.viz.curves import X_TITLES, overlay_figure
from mtl.viz.frames import curve_frame
from mtl.viz.labels import label, markdown_text, metric_label
from mtl.viz.report import report_html
from mtl.viz.runs_table import (
    BEST_SUFFIX,
    ID,
    TEST_SUFFIX,
    default_columns,
    optional_columns,
    results_columns,
    runs_table,
)

METRICS = ["loss", "accuracy", "f1", "auc_roc", "r2", "mae", "rmse"]
X_AXES = ["epoch", "step", "wall_time"]
presenting = session.presenting()
st.title("Compare runs" if presenting else "Compare")
session.refresh_queue()
store: RunStore = session.store()
runs = store.list_runs(with_config=True)  # the one query the table is built from
if runs.empty:
    st.info("No runs yet. Start one from **Home** or **Experiment**.")
    session.refresh_while_pending()
    st.stop()

table = runs_table(runs)
NAME, STATUS, DATASET, SHARING = (label(c) for c in ("name", "status", "dataset", "sharing"))
TAGS, NOTES = label("tags"), label("notes")
if presenting:  # the runs and the chart settings come from the link
    selected = session.query_ids("runs", table[ID].tolist(), "run")
    results = table[table[ID].isin(selected)]
    shown_columns = [
        c for c in default_columns(table) if c not in (TAGS, NOTES) and results[c].notna().any()
    ]
    st.dataframe(
        results[shown_columns],
        hide_index=True,
        width="stretch",
        placeholder="—",
        column_config={NAME: st.column_config.TextColumn(width="medium")},
    )
else:
    filters = st.columns([2, 2, 2, 3])
    statuses = filters[0].multiselect("Status", sorted(table[STATUS].unique()), key="cmp.status")
    datasets = filters[1].multiselect(
        "Dataset", sorted(table[DATASET].dropna().unique()), key="cmp.dataset"
    )
    sharings = filters[2].multiselect(
        "Sharing", sorted(table[SHARING].dropna().unique()), key="cmp.sharing"
    )
    text = filters[3].text_input("Search name, tags, notes", key="cmp.text")
    extra = st.multiselect(
        "More columns",
        optional_columns(table),
        key="cmp.columns",
        help="Settings, tasks, duration and the best validation values.",
    )
    if any(c.endswith(BEST_SUFFIX) for c in extra):  # only then read every run's best values
        table = runs_table(runs, store.extremes("val"))
    shown = table
    if statuses:
        shown = shown[shown[STATUS].isin(statuses)]
    if datasets:
        shown = shown[shown[DATASET].isin(datasets)]
    if sharings:
        shown = shown[shown[SHARING].isin(sharings)]
    if text:
        needle = text.lower()
        shown = shown[
            shown[[NAME, TAGS, NOTES]].apply(
                lambda r: needle in " ".join(map(str, r)).lower(), axis=1
            )
        ]

    # results of tasks none of the listed runs has are left out (e.g. after a dataset filter)
    columns = [
        c
        for c in default_columns(table)
        if c not in results_columns(table) or shown[c].notna().any()
    ]
    columns += extra
    display = shown.copy()
    display[STATUS] = display[STATUS].map(session.status_label)
    st.caption(
        f"{len(shown)} of {len(table)} runs · Results: each task's headline metric on the test split. "
        "Click column headers to sort; tick rows to overlay their curves. Tags and notes are editable; "
        "add settings and best validation values with **More columns**."
    )
    edited = st.data_editor(
        display.assign(select=False)[["select", ID, *columns]],
        hide_index=True,
        width="stretch",
        placeholder="—",  # a task this run does not have
        column_order=["select", *columns],
        disabled=[ID, *(c for c in columns if c not in (TAGS, NOTES))],
        column_config={
            "select": st.column_config.CheckboxColumn("✓", width=40, pinned=True),
            NAME: st.column_config.TextColumn(width=180, pinned=True),  # stays while scrolling
            STATUS: st.column_config.TextColumn(width=80),
            DATASET: st.column_config.TextColumn(width=100),
            TAGS: st.column_config.TextColumn(width=110),
            NOTES: st.column_config.TextColumn(width=200),
            **{
                c: st.column_config.NumberColumn(
                    c.removesuffix(TEST_SUFFIX),
                    width=120,
                    format="%.4f",
                    help=f"{c}: the task's headline metric on the test split",
                )
                for c in results_columns(table)
            },
        },
        key="cmp.table",
    )
    before = shown.set_index(ID)
    for run_id, tags, notes in zip(edited[ID], edited[TAGS], edited[NOTES], strict=True):
        if tags != before.at[run_id, TAGS]:
            store.set_tags(run_id, [t.strip() for t in str(tags).split(",") if t.strip()])
        if notes != before.at[run_id, NOTES]:
            store.set_notes(run_id, str(notes))
    selected = edited.loc[edited["select"], ID].tolist()
    session.refresh_while_pending(shown[ID])

    actions = st.columns([2, 2, 4])
    actions[0].download_button(
        "Export table (CSV)", to_csv(shown), file_name="runs.csv", mime="text/csv", key="cmp.csv"
    )
    if selected and actions[1].button(f"Delete {len(selected)} selected", key="cmp.delete"):
        state = st.session_state
        state["cmp.confirm"] = selected
    if st.session_state.get("cmp.confirm"):
        doomed = st.session_state["cmp.confirm"]
        st.warning(f"Delete {len(doomed)} run(s) and their files? This cannot be undone.")
        yes, no = st.columns([1, 6])
        if yes.button("Delete", type="primary", key="cmp.confirm_yes"):
            for run_id in doomed:
                status = store.get_run(run_id)["status"]
                if status in ACTIVE:
                    st.error(f"{run_id} is {status}: stop it on the Live page first.")
                    continue
                store.delete_run(run_id)
            del st.session_state["cmp.confirm"]
            st.rerun()
        if no.button("Cancel", key="cmp.confirm_no"):
            del st.session_state["cmp.confirm"]
            st.rerun()


if selected:
    st.subheader("Curves of the selected runs")
    names = {r: f"{table.loc[table[ID] == r, NAME].iloc[0]} · {r}" for r in selected}
    if presenting:
        metric = session.query_choice("metric", METRICS, "loss")
        x_axis = session.query_choice("x", X_AXES, "epoch")
        smoothing = session.query_float("smoothing", 0.0, 0.0, 0.99)
    else:
        controls = st.columns(3)
        metric = controls[0].selectbox(
            "Metric", METRICS, format_func=metric_label, key="cmp.metric"
        )
        x_axis = controls[1].radio(
            "x-axis", X_AXES, horizontal=True, key="cmp.x", format_func=X_TITLES.get
        )
        smoothing = controls[2].slider("Smoothing", 0.0, 0.99, 0.0, 0.01, key="cmp.smoothing")
        session.presenter_link(  # a row of its own: a narrow column clipped its label
            "compare",
            {
                "runs": ",".join(selected),
                "metric": metric,
                "x": x_axis,
                "smoothing": f"{smoothing:g}",
            },
        )
    frames = {
        names[r]: curve_frame(store.metrics(r), metric, x_axis, smoothing, splits=("val",))
        for r in selected
    }
    tasks = sorted({t for f in frames.values() for t in f["task"].unique()})
    colors = run_colors(list(frames))
    if not tasks:
        st.info(f"The selected runs have no validation {metric_label(metric)} curve.")
    st.caption(f"Validation {metric_label(metric)} per task, one line per run.")
    cols = st.columns(2)
    for i, task in enumerate(tasks):
        with cols[i % 2]:
            # the task's name above the chart, where it wraps (a plotly title is cut off)
            st.markdown(f"**{markdown_text(task)}**")
            st.plotly_chart(
                overlay_figure(
                    frames,
                    task=task,
                    title=None,
                    colors=colors,
                ),
                width="stretch",
                key=f"cmp.overlay.{task}",
            )
    plotted = pd.concat([f.assign(run=name) for name, f in frames.items()], ignore_index=True)
    if not presenting:
        st.download_button(
            "Download what is plotted (CSV)",
            to_csv(plotted),
            file_name="overlay.csv",
            mime="text/csv",
            key="cmp.overlay_csv",
        )
        st.download_button(
            "Report of the selected runs (self-contained HTML)",
            lambda: report_html(store, selected),
            file_name="comparison-report.html",
            mime="text/html",
            key="cmp.report",
        )
