"""Transfer: single-task vs multi-task vs transfer learning as the target's labels get scarce.

Start a study (every run goes through the store and its workers, so it survives a closed
tab), watch the data-efficiency plot fill in, and read the guide's comparison table with the
numbers measured on this data."""

import streamlit as st

from mtl import presets
from mtl.errors import SweepError, UserError
from mtl.runs.ray_options import check_cluster
from mtl.study.sweeps.stop import stop_sweep
from mtl.study.transfer import (
    DEFAULT_FRACTIONS,
    DEFAULT_SEEDS,
    MIN_VERDICT_SEEDS,
    launch_transfer_study,
    parse_fractions,
    study_results,
    summarize,
    transfer_studies,
)
from mtl.ui import session
from mtl.ui.study_size import show_study_size, transfer_run_count
from mtl.viz.labels import markdown_text
from mtl.viz.transfer import (
    COLUMNS,
    comparison_table,
    data_efficiency_figure,
    transfer_report,
    verdict,
)

presenting = session.presenting()
st.title("Transfer learning" if presenting else "Transfer")
store = session.store()
session.refresh_queue()
studies = transfer_studies(store)

if not presenting:
    with st.expander(  # its open state is read: the size is measured only while it is open
        "New transfer study", expanded=not studies, key="tr.new", on_change="rerun"
    ) as new_study:
        left, right = st.columns(2)
        choices = [n for n in presets.names() if len(presets.load(n).tasks) >= 2]
        preset = left.selectbox(
            "Data and model",
            choices,
            index=choices.index("synthetic-related") if "synthetic-related" in choices else 0,
            key="tr.preset",
            format_func=lambda n: f"preset {n}",
        )
        tasks = [t.name for t in presets.load(preset).tasks]
        target = left.selectbox("Target task (its labels become scarce)", tasks, key="tr.target")
        fractions = right.text_input(
            "Shares of the target's training labels",
            ", ".join(f"{f:g}" for f in DEFAULT_FRACTIONS),
            key="tr.fractions",
        )
        seeds = right.number_input(
            "Seeds",
            min_value=1,
            max_value=10,
            value=DEFAULT_SEEDS,
            key="tr.seeds",
            help=f"At least {MIN_VERDICT_SEEDS} for a verdict: one seed has no spread to judge "
            "a difference against (the study then shows the numbers and claims nothing).",
        )
        epochs = right.number_input(
            "Epochs per run (early stopping after 5 without progress)",
            min_value=1,
            value=20,
            key="tr.epochs",
        )
        on_ray = session.executor_choice("tr.executor")  # shown only when a cluster is configured
        config = presets.load(preset).with_overrides(
            {"train.epochs": int(epochs), "train.early_stopping": 5}
        )
        try:  # the size of what Start queues, from the same spec (a bad one is said on Start)
            size = transfer_run_count(config, target, parse_fractions(fractions), int(seeds))
        except (SweepError, ValueError):
            pass
        else:
            if new_study.open:
                show_study_size("tr.size", config, *size, "pretraining run")
        if st.button("Start the study", type="primary", key="tr.start"):
            try:
                if on_ray is not None:
                    check_cluster(on_ray.address)
                study_id = launch_transfer_study(
                    store,
                    config,
                    target,
                    parse_fractions(fractions),
                    int(seeds),
                    warm=True,
                    ray=on_ray,
                )
            except (SweepError, ValueError, UserError) as err:
                st.error(f"This study cannot start: {markdown_text(err)}")
            else:
                st.query_params["study"] = study_id
                st.rerun()

if not studies:
    st.info("No transfer study yet: start one above, or run `python -m mtl study transfer`.")
    st.stop()
ids = [r["id"] for r in studies]
names = {r["id"]: f"{r['name']} · {r['id']}" for r in studies}
wanted = session.query_id("study", ids, "transfer study")
if presenting:
    study_id = wanted if wanted in ids else ids[0]
    st.subheader(markdown_text(names[study_id]))
else:
    if wanted in ids and st.session_state.get("tr.picker") != wanted:
        st.session_state["tr.picker"] = wanted
    study_id = st.selectbox("Study", ids, format_func=names.__getitem__, key="tr.picker")
    if st.query_params.get("study") != study_id:
        st.query_params["study"] = study_id
pending = study_results(store, study_id).attrs["pending"] > 0


@st.fragment(run_every=1.0 if pending else None)
def view() -> None:
    results = study_results(store, study_id)
    summary = summarize(results)
    done = int(results["value"].notna().sum())
    left = results.attrs["pending"]
    st.progress(
        done / max(1, len(results)),
        text=f"{done} of {len(results)} runs finished · {left} queued or running",
    )
    if summary.empty:
        st.info("The plot fills in as runs finish (pretraining runs come first).")
    else:
        st.plotly_chart(data_efficiency_figure(summary), width="stretch", key="tr.plot")
        st.caption(
            "Each point: the target's test metric, mean over seeds; the band is ± one std. "
            "A method helps where its band clears single-task's."
        )
        st.subheader("Multi-task vs transfer learning, measured")
        st.dataframe(comparison_table(summary), width="stretch", placeholder="—")
        for method in ("mtl", "transfer"):  # the verdicts in full (a table cell cuts them)
            st.text(f"{COLUMNS[method]}: {verdict(summary, method)}")
        st.caption(
            "Cost: wall time per run, worker start included; transfer's includes its pretraining."
        )
    if not presenting:
        buttons = st.columns(3)
        with buttons[0]:
            session.presenter_link("transfer", {"study": study_id})
        if left and buttons[1].button("Stop the study", key="tr.stop"):
            stopped = stop_sweep(store, study_id, grace_s=5.0)
            st.toast(f"{len(stopped)} runs stopped")
        buttons[2].download_button(
            "Study report (HTML)",
            lambda: transfer_report(store, study_id),
            file_name=f"transfer-{study_id}.html",
            mime="text/html",
            key="tr.report",
        )
    if pending and not left:
        st.rerun()


view()
