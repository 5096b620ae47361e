"""Compare: every run in one table; overlay the curves of the runs you select."""

import pandas as pd
import streamlit as st

from mtl.report import report_html
from mtl.runs.store import RunStore
from mtl.ui import session
from mtl.ui.colors import run_colors
from mtl.ui.compare import runs_table
from mtl.ui.curves import curve_frame
from mtl.ui.figures import overlay_figure

METRICS = ["loss", "accuracy", "f1", "auc_roc", "r2", "mae", "rmse"]
X_AXES = ["epoch", "step", "wall_time"]
presenting = session.presenting()
if not presenting:
    st.title("Compare")
session.refresh_queue()
store: RunStore = session.store()
runs = store.list_runs(with_config=True)
if runs.empty:
    st.info("No runs yet. Start one from **Home** or **Experiment**.")
    st.stop()

table = runs_table(runs, store.extremes("val"))
if presenting:  # the runs and the chart settings come from the link
    selected = [r for r in st.query_params.get("runs", "").split(",") if r in set(table["id"])]
    results = table[table["id"].isin(selected)]
    st.dataframe(results.drop(columns=["tags", "notes"]), hide_index=True, width="stretch")
else:
    filters = st.columns([2, 2, 2, 3])
    statuses = filters[0].multiselect("Status", sorted(table["status"].unique()), key="cmp.status")
    datasets = filters[1].multiselect("Dataset", sorted(table["dataset"].dropna().unique()), key="cmp.dataset")
    sharings = filters[2].multiselect("Sharing", sorted(table["sharing"].dropna().unique()), key="cmp.sharing")
    text = filters[3].text_input("Search name, tags, notes", key="cmp.text")
    shown = table
    if statuses:
        shown = shown[shown["status"].isin(statuses)]
    if datasets:
        shown = shown[shown["dataset"].isin(datasets)]
    if sharings:
        shown = shown[shown["sharing"].isin(sharings)]
    if text:
        needle = text.lower()
        shown = shown[shown[["name", "tags", "notes"]].apply(lambda r: needle in " ".join(r).lower(), axis=1)]

    display = shown.copy()
    display["status"] = display["status"].map(session.status_label)
    st.caption("Click column headers to sort; tick rows to overlay their curves. Tags and notes are editable.")
    edited = st.data_editor(
        display.assign(select=False)[["select", *display.columns]],
        hide_index=True,
        width="stretch",
        disabled=[c for c in display.columns if c not in ("tags", "notes")],
        column_config={"select": st.column_config.CheckboxColumn("✓", width="small")},
        key="cmp.table",
    )
    for row in edited.itertuples(index=False):
        before = shown.loc[shown["id"] == row.id].iloc[0]
        if row.tags != before["tags"]:
            store.set_tags(row.id, [t.strip() for t in str(row.tags).split(",") if t.strip()])
        if row.notes != before["notes"]:
            store.set_notes(row.id, str(row.notes))
    selected = edited.loc[edited["select"], "id"].tolist()

    actions = st.columns([2, 2, 4])
    actions[0].download_button("Export table (CSV)", shown.to_csv(index=False), file_name="runs.csv", mime="text/csv",
                               key="cmp.csv")
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
                if status in ("queued", "running"):
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
    names = {r: f"{table.loc[table['id'] == r, 'name'].iloc[0]} · {r}" for r in selected}
    if presenting:
        metric = session.query_choice("metric", METRICS, "loss")
        x_axis = session.query_choice("x", X_AXES, "epoch")
        smoothing = session.query_float("smoothing", 0.0, 0.0, 0.99)
    else:
        controls = st.columns([2, 2, 2, 1])
        metric = controls[0].selectbox("Metric", METRICS, key="cmp.metric")
        x_axis = controls[1].radio("x-axis", X_AXES, horizontal=True, key="cmp.x")
        smoothing = controls[2].slider("Smoothing", 0.0, 0.99, 0.0, 0.01, key="cmp.smoothing")
        with controls[3]:
            session.presenter_link("compare", {"runs": ",".join(selected), "metric": metric, "x": x_axis,
                                               "smoothing": f"{smoothing:g}"})
    frames = {names[r]: curve_frame(store.metrics(r), metric, x_axis, smoothing, splits=("val",)) for r in selected}
    tasks = sorted({t for f in frames.values() for t in f["task"].unique()})
    colors = run_colors(list(frames))
    if not tasks:
        st.info(f"The selected runs have no validation {metric} curve.")
    cols = st.columns(2)
    for i, task in enumerate(tasks):
        with cols[i % 2]:
            st.plotly_chart(overlay_figure(frames, task=task, title=f"{task}: validation {metric}", colors=colors),
                            width="stretch", key=f"cmp.overlay.{task}")
    plotted = pd.concat([f.assign(run=name) for name, f in frames.items()], ignore_index=True)
    if not presenting:
        st.download_button("Download what is plotted (CSV)", plotted.to_csv(index=False), file_name="overlay.csv",
                           mime="text/csv", key="cmp.overlay_csv")
        st.download_button("Report of the selected runs (self-contained HTML)", lambda: report_html(store, selected),
                           file_name="comparison-report.html", mime="text/html", key="cmp.report")
