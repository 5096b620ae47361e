"""Verdict: does multi-task learning help here, beyond seed noise, against a tuned equal sum?

Start one from a preset or the Experiment setup (or from a run on Evaluate), follow it, and
read the front with every method on it, Δm with its interval per method, the cost and the
plain-language verdict (:mod:`mtl.study.verdict`; figures in :mod:`mtl.viz.verdict`)."""

import streamlit as st

from mtl import presets
from mtl.config import ExperimentConfig
from mtl.errors import SweepError, UserError
from mtl.runs.ray_options import check_cluster
from mtl.study.sweeps.records import read_records
from mtl.study.verdict import (
    DEFAULT_METHODS,
    DEFAULT_SEEDS,
    MIN_SEEDS,
    VERDICT_SEARCHES,
    VerdictOptions,
    is_verdict,
    start_verdict,
    verdict_result,
)
from mtl.ui import session
from mtl.ui.form import to_config
from mtl.ui.studies import CURRENT, pick_study, start_from
from mtl.ui.study_size import show_study_size, verdict_run_count
from mtl.viz.labels import markdown_text
from mtl.viz.report import Section, report_html
from mtl.viz.verdict import delta_figure, front_figure, methods_table
from mtl.weighting import WEIGHTINGS

presenting = session.presenting()
st.title("Verdict")
SEARCH_LABELS = {"random": "random settings", "tpe": "TPE search"}
store = session.store()
session.refresh_queue()

if not presenting:
    verdicts_so_far = [r for r in read_records(store) if is_verdict(r)]
    with st.expander(  # its open state is read: the size is measured only while it is open
        "New verdict", expanded=not verdicts_so_far, key="vd.new", on_change="rerun"
    ) as new_verdict:
        st.caption(
            "Trains the single-task baselines, equal weighting and the methods you pick, each tuned "
            "with the same budget (learning rate, weight decay, dropout), plus a sweep of static "
            "loss weights, all on the same data and encoder over several seeds."
        )
        left, right = st.columns(2)
        base = start_from(left, "vd.base", "synthetic-related")
        epochs = left.number_input(
            "Epochs per run", 1, 10_000, None, key="vd.epochs", placeholder="as the setup says"
        )
        seeds = left.number_input("Seeds", MIN_SEEDS, 20, DEFAULT_SEEDS, key="vd.seeds")
        methods = right.multiselect(
            "Methods (equal weighting is always in)",
            WEIGHTINGS.names(),
            list(DEFAULT_METHODS),
            key="vd.methods",
        )
        budget = right.number_input("Search budget per method", 1, 50, 2, key="vd.budget")
        weights = right.number_input("Static weight vectors (front)", 0, 100, 4, key="vd.weights")
        search = right.radio(
            "Tuning",
            VERDICT_SEARCHES,
            format_func=SEARCH_LABELS.__getitem__,
            horizontal=True,
            key="vd.search",
            help="The same budget either way: shared random settings for every method, or one "
            "Optuna TPE search per method that picks its next setting from the results so far.",
        )
        on_ray = session.executor_choice("vd.executor")  # shown only when a cluster is configured

        def verdict_spec() -> tuple[ExperimentConfig, VerdictOptions]:
            """The config and options Start launches (and the size caption counts)."""
            config = (
                ExperimentConfig.from_dict(to_config(st.session_state))
                if base == CURRENT
                else presets.load(base)
            )
            if epochs is not None:
                config = config.with_overrides({"train.epochs": int(epochs)})
            options = VerdictOptions(
                seeds=tuple(range(int(seeds))),
                budget=int(budget),
                methods=tuple(methods),
                weights=int(weights),
                search=search,
            )
            return config, options

        try:  # what Start queues, counted from the same spec (a bad one is said on Start)
            spec = verdict_spec()
            if new_verdict.open:
                size = verdict_run_count(*spec)
                show_study_size("vd.size", spec[0], *size, "single-task baseline")
        except (SweepError, ValueError, UserError):
            pass
        if st.button("Start the verdict", type="primary", key="vd.start"):
            try:
                if on_ray is not None:
                    check_cluster(on_ray.address)
                config, options = verdict_spec()
                verdict_id = start_verdict(store, config, options, warm=True, ray=on_ray)
            except (SweepError, ValueError, UserError) as err:
                st.error(f"This verdict cannot start: {markdown_text(err)}")
            else:
                st.query_params["verdict"] = verdict_id
                st.rerun()

records = [r for r in read_records(store) if is_verdict(r)]
if not records:
    st.info("No verdicts yet: start one above, or run `python -m mtl study verdict --preset NAME`.")
    st.stop()
ids = [r["id"] for r in records]
labels = {
    r["id"]: f"{r['name']} · {r['id']} · {len(r['runs'])} runs + {len(r['baselines'])} baselines"
    for r in records
}
verdict_id = pick_study("Verdict", ids, labels, "verdict", "vd.picker", "verdict")
first = verdict_result(store, verdict_id)
if presenting:
    st.subheader(markdown_text(first["name"]))


@st.fragment(run_every=2.0 if not first["done"] else None)
def view() -> None:
    result = verdict_result(store, verdict_id)
    progress = result["progress"]
    baselines_ended = progress["baselines"] - progress["baselines_pending"]
    total = max(1, progress["total"] + progress["baselines"])
    st.progress(  # the runs counted as the verdict's sentences count them, baselines apart
        (progress["done"] + baselines_ended) / total,
        text=f"{progress['done']} of {progress['total']} runs ended · "
        f"{baselines_ended} of {progress['baselines']} single-task baselines",
    )
    st.subheader("The verdict")
    for sentence in result["verdict"]:
        st.markdown(markdown_text(sentence))
    if result["methods"]:
        st.plotly_chart(delta_figure(result), width="stretch", key="vd.delta")
        tasks = list(result["tasks"])
        if presenting:
            x = session.query_choice("x", tasks, tasks[0])
            y = session.query_choice("y", tasks, tasks[1])
        else:
            pick = st.columns(2)
            x = pick[0].selectbox("Task on x", tasks, index=0, key="vd.x")
            y = pick[1].selectbox("Task on y", tasks, index=1, key="vd.y")
        st.plotly_chart(front_figure(result, x, y), width="stretch", key="vd.front")
        st.caption(
            "Grey: static loss weights (the scalarisation front); diamonds: each method at its "
            "best setting; ×: the single-task baselines. Bars: 95% interval over seeds."
        )
        st.dataframe(methods_table(result), hide_index=True, width="stretch", placeholder="—")
    if not presenting:
        session.presenter_link(
            "verdict",
            {"verdict": verdict_id, **{k: st.session_state.get(f"vd.{k}", "") for k in "xy"}},
        )
        if result["methods"]:
            st.download_button(
                "Verdict report (self-contained HTML)",
                lambda: verdict_report(result, x, y),
                file_name=f"verdict-{verdict_id}.html",
                mime="text/html",
                key="vd.report",
            )
    if not first["done"] and result["done"]:
        st.rerun()


def verdict_report(result: dict, x: str, y: str) -> str:
    """The verdict in one HTML report: its sentences, figures and table, then the best runs."""
    section = Section(
        title="The verdict",
        text="\n\n".join(result["verdict"]),
        figures=[delta_figure(result), front_figure(result, x, y)],
        tables=[methods_table(result)],
    )
    runs = [run for entry in result["methods"].values() for run in entry["runs"]]
    return report_html(store, runs, title=f"Verdict {result['name']}", sections=[section])


view()
