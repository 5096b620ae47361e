"""Sweeps: queue a grid of settings × seeds (or an Optuna search), follow it, and read the
answer (mean ± std, Δm against the single-task baseline, a Pareto plot and parallel
coordinates; for a search, its best trial or Pareto front and the hyperparameter importance)."""

import pandas as pd
import streamlit as st

from mtl.errors import UserError
from mtl.models import ARCHITECTURES
from mtl.runs.ray_options import check_cluster
from mtl.runs.status import RunStatus
from mtl.study.sweeps import (
    DELTA_COLUMN,
    HEADLINE_METRICS,
    SEARCHES,
    SweepError,
    SweepSpec,
    aggregate,
    default_pareto_metrics,
    get_sweep,
    higher_is_better,
    is_done,
    launch_sweep,
    metric_columns,
    objective_column,
    pareto_front,
    progress,
    search_summary,
    sweep_runs,
    sweeps,
    trial_table,
)
from mtl.ui import session
from mtl.ui.form import to_config
from mtl.ui.studies import CURRENT, pick_study, start_from
from mtl.viz.labels import label, markdown_text
from mtl.viz.report import Section, report_html
from mtl.viz.sweeps import importance_figure, parallel_figure, pareto_figure
from mtl.weighting import WEIGHTINGS

presenting = session.presenting()
st.title("Sweeps")
store = session.store()
session.refresh_queue()


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with human headers (``model.sharing`` → ``sharing``)."""
    return frame.rename(columns=lambda c: label(str(c)))


def numbers(text: str) -> list[float]:
    """``"0.001, 0.01"`` → ``[0.001, 0.01]`` (a clear error otherwise)."""
    try:
        return [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise SweepError(f"write numbers separated by commas, not {text!r}") from None


def interval(text: str) -> dict[str, float | bool]:
    """``"0.0003, 0.03"`` → a log range ``{low, high, log}`` (a clear error otherwise)."""
    ends = numbers(text)
    if len(ends) != 2:
        raise SweepError(f"write the lowest and the highest value, e.g. 0.0003, 0.03; not {text!r}")
    return {"low": ends[0], "high": ends[1], "log": True}


SEARCH_LABELS = {
    "grid": "grid: every combination",
    "random": "random search (Optuna)",
    "tpe": "TPE search (Optuna)",
    "nsga2": "NSGA-II: every task's metric (Optuna)",
}

if not presenting:
    with st.expander("New sweep", expanded=sweeps(store).empty):
        left, right = st.columns(2)
        name = left.text_input("Sweep name", "sharing-vs-weighting", key="sw.name")
        base = start_from(
            left,
            "sw.base",
            "seed-example",
            help="A preset, or the settings now on the Experiment page",
        )
        epochs = left.number_input("Epochs per run", min_value=1, value=10, step=1, key="sw.epochs")
        search = left.selectbox(
            "Search",
            SEARCHES,
            key="sw.search",
            format_func=SEARCH_LABELS.__getitem__,
            help="Every combination, or Optuna picking the next trial from the results so far",
        )
        searching = search != "grid"
        if searching:
            trials = left.number_input(
                "Trials", min_value=1, max_value=200, value=12, step=1, key="sw.trials"
            )
            pruning = search != "nsga2" and left.checkbox(
                "Stop hopeless trials early (median pruning)", True, key="sw.pruning"
            )
            trial_seeds = left.number_input(
                "Seeds per trial",
                min_value=1,
                max_value=10,
                value=1,
                step=1,
                key="sw.trial_seeds",
                help="Each trial trains on seeds 0 … N-1 and is judged on the mean over them, "
                "so a lucky seed does not pick the setting",
            )
        else:
            seeds = left.text_input("Seeds", "0, 1", key="sw.seeds")
        sharing = right.multiselect(
            "Sharing modes", ARCHITECTURES.names(), ["hard", "independent"], key="sw.sharing"
        )
        default_weightings = [w for w in ("equal", "uncertainty") if w in WEIGHTINGS.names()]
        weighting = right.multiselect(
            "Weighting strategies", WEIGHTINGS.names(), default_weightings, key="sw.weighting"
        )
        lrs = right.text_input(
            "Learning rate: lowest, highest" if searching else "Learning rates (optional)",
            "0.0003, 0.03" if searching else "",
            key="sw.lr.range" if searching else "sw.lr",
            help="A search draws it log-uniformly between the two" if searching else None,
        )
        ps = right.text_input(
            "Task correlation p of synthetic data (optional)",
            "",
            key="sw.p",
            help="Only for presets on the synthetic dataset",
        )
        with_baselines = not searching and right.checkbox(
            "Also train the single-task baselines (for Δm)", True, key="sw.baselines"
        )
        on_ray = session.executor_choice("sw.executor")  # shown only when a cluster is configured
        if st.button("Queue the sweep", type="primary", key="sw.start"):
            try:
                if on_ray is not None:
                    check_cluster(on_ray.address)
                grid: dict[str, list] = {}
                ranges: dict[str, dict] = {}
                if sharing:
                    grid["model.sharing"] = sharing
                if weighting:
                    grid["loss.weighting"] = weighting
                if lrs.strip() and searching:
                    ranges["train.lr"] = interval(lrs)
                elif lrs.strip():
                    grid["train.lr"] = numbers(lrs)
                if ps.strip():
                    grid["data.options.p"] = numbers(ps)
                seed_list = (
                    list(range(int(trial_seeds)))
                    if searching
                    else [int(s) for s in numbers(seeds)] or [0]
                )
                extra = (
                    {
                        "search": search,
                        "trials": int(trials),
                        "ranges": ranges,
                        "pruning": "median" if pruning else "none",
                    }
                    if searching
                    else {}
                )
                spec = SweepSpec.from_dict(
                    {
                        "name": name,
                        "base": to_config(st.session_state) if base == CURRENT else base,
                        "overrides": {"train.epochs": int(epochs)},
                        "grid": grid,
                        "seeds": seed_list,
                        **extra,
                    }
                )
                sweep_id = launch_sweep(
                    store, spec, warm=True, baselines=with_baselines, ray=on_ray
                )
            except (SweepError, ValueError, UserError) as err:
                st.error(f"This sweep cannot start: {markdown_text(err)}")
            else:
                st.query_params["sweep"] = sweep_id
                st.rerun()

listing = sweeps(store)
if listing.empty:
    st.info("No sweeps yet: queue one above, or run `python -m mtl sweep SWEEP.yaml`.")
    st.stop()
ids = listing["id"].tolist()
labels = {r.id: f"{r.name} · {r.id} · {r.runs} runs" for r in listing.itertuples()}
sweep_id = pick_study("Sweep", ids, labels, "sweep", "sw.picker", "sweep")
record = get_sweep(store, sweep_id)
if presenting:
    st.subheader(markdown_text(record["name"]))
settings = list(record.get("settings") or [])
running = not is_done(progress(store, sweep_id))


def sweep_report(store, sweep_id: str, name: str) -> str:  # type: ignore[no-untyped-def]
    """The sweep's runs in one HTML report, with the aggregate table first (for a search: its
    trials and the hyperparameter importance)."""
    runs = sweep_runs(store, sweep_id)
    if record.get("search"):
        found = search_summary(store, sweep_id)
        section = Section(
            title="Search trials",
            figures=[importance_figure(found["importance"])] if found["importance"] else [],
            tables=[readable(trial_table(found["trials"], settings, tests=False))],
        )
    else:
        section = Section(
            title="Mean ± std over seeds, per setting", tables=[readable(aggregate(runs, settings))]
        )
    return report_html(store, runs["id"].tolist(), title=f"Sweep {name}", sections=[section])


def search_results() -> None:
    """A search's answer: its best trial (or Pareto front), the importance, every trial."""
    found = search_summary(store, sweep_id)
    trials = found["trials"]
    objectives = found["objectives"]
    columns = [objective_column(o) for o in objectives]
    arrows = ", ".join(
        f"{label(o)} {'↑' if h else '↓'}"
        for o, h in zip(objectives, found["higher_is_better"], strict=True)
    )
    st.caption(
        markdown_text(
            f"{SEARCH_LABELS.get(found['method'], found['method'])} · objective on the "
            f"validation split: {arrows}"
            + ("" if found["pruning"] == "none" else f" · {found['pruned']} trial(s) pruned")
            + f" · {found['steps']:.0f} training steps"
            + (
                f" · each trial on {len(found['seeds'])} seeds: its value is their mean (± std)"
                if len(found["seeds"]) > 1
                else ""
            )
        )
    )
    if found["state"] in ("failed", "interrupted"):
        st.error(
            markdown_text(
                f"The search ended {found['state']}: {found['error'] or 'no reason given'}"
            )
        )
    shown = trial_table(trials, settings)
    if found["best"] is not None:
        st.subheader("Best trial")
        over = " (the mean over its seeds)" if len(found["seeds"]) > 1 else ""
        st.caption(f"Chosen on the validation split{over}; the test metrics are shown beside it.")
        best = shown.loc[[found["best"]]].drop(columns=["status", "pruned"])  # finished, not pruned
        st.dataframe(readable(best), hide_index=True, width="stretch", placeholder="—")
    elif found["front"] is not None and found["front"].any():
        st.subheader("Pareto front of the trials")
        if len(columns) == 2:
            done = trials.dropna(subset=columns)
            st.plotly_chart(
                pareto_figure(
                    done.assign(label="#" + done["trial"].astype(str)),
                    columns[0],
                    columns[1],
                    found["front"][done.index],
                    labels=["label"],
                    title="",
                ),
                width="stretch",
                key="sw.front",
            )
        st.dataframe(
            readable(shown[found["front"]]), hide_index=True, width="stretch", placeholder="—"
        )
        bars = " Bars: ± std over each trial's seeds." if len(found["seeds"]) > 1 else ""
        st.caption(f"The trials no other trial beats on every objective at once.{bars}")
    elif not running:
        st.info("No trial finished, so there is no best one.")
    if found["importance"]:
        st.plotly_chart(importance_figure(found["importance"]), width="stretch", key="sw.imp")
        st.caption(
            "How much of the objective's variation over the finished trials each setting "
            "explains (Optuna's importance; the shares sum to 1)."
        )
    elif found["importance_note"] and not running:
        st.caption(markdown_text(f"Importance: {found['importance_note']}"))
    st.subheader("Trials")
    st.dataframe(readable(shown), hide_index=True, width="stretch", placeholder="—")


@st.fragment(run_every=1.0 if running else None)
def view() -> None:
    counts = progress(store, sweep_id)
    total = max(1, counts.get("total", 0))
    st.progress(
        counts.get("done", 0) / total,
        text=f"{counts.get('done', 0)} of {counts.get('total', 0)} runs ended · "
        + ", ".join(
            f"{k} {v}"
            for k, v in counts.items()
            if k
            in (
                RunStatus.QUEUED,
                RunStatus.RUNNING,
                RunStatus.FINISHED,
                RunStatus.STOPPED,
                RunStatus.FAILED,
                RunStatus.DIVERGED,
            )
            and v
        ),
    )
    runs = sweep_runs(store, sweep_id, delta=not running)
    finished = runs[runs["status"] == RunStatus.FINISHED]
    if record.get("search"):
        search_results()
    elif finished.empty:
        st.info("Results appear as runs finish.")
    else:
        table = aggregate(runs, settings)
        st.subheader("Mean ± std over seeds, per setting")
        shown = table[[*settings, "runs"]].copy()
        for column in [c.removesuffix(" mean") for c in table.columns if c.endswith(" mean")]:
            mean, std = table[f"{column} mean"], table[f"{column} std"]
            shown[column] = [
                f"{m:.4g}" + ("" if pd.isna(s) else f" ± {s:.2g}") if pd.notna(m) else "—"
                for m, s in zip(mean, std, strict=True)
            ]
        kinds = dict(runs.attrs.get("tasks", []))
        headline = [f"{t}/{HEADLINE_METRICS.get(k or '', 'loss')}" for t, k in kinds.items()]
        brief = [c for c in (*headline, DELTA_COLUMN) if c in shown]
        st.dataframe(
            readable(shown[[*settings, "runs", *brief]]),
            hide_index=True,
            width="stretch",
            placeholder="—",
        )
        with st.expander("Every metric"):
            st.dataframe(readable(shown), hide_index=True, width="stretch", placeholder="—")
        if "delta_m" in runs and runs["delta_m"].notna().any():
            st.caption(
                "Δm (%): the mean relative change of each task's test metrics against its single-task "
                "baseline (higher-is-better metrics count +, lower-is-better −); above 0, sharing helps."
            )
        metrics = [f"{c} mean" for c in metric_columns(runs) if f"{c} mean" in table]
        if len(metrics) >= 2 and len(table) >= 2:
            st.subheader("Pareto plot")
            pick = st.columns(2) if not presenting else []
            default = [f"{m} mean" for m in (default_pareto_metrics(runs) or ())]
            first = metrics.index(default[0]) if default and default[0] in metrics else 0
            second = metrics.index(default[1]) if len(default) > 1 and default[1] in metrics else 1
            if presenting:  # the axes come from the link (default: the tasks' headline metrics)
                x = session.query_choice("x", metrics, metrics[first])
                y = session.query_choice("y", metrics, metrics[second])
            else:
                x = pick[0].selectbox("x", metrics, index=first, format_func=label, key="sw.x")
                y = pick[1].selectbox("y", metrics, index=second, format_func=label, key="sw.y")
            complete = table.dropna(subset=[x, y])
            front = pareto_front(
                complete,
                x,
                y,
                higher_is_better(x.removesuffix(" mean")),
                higher_is_better(y.removesuffix(" mean")),
            )
            st.plotly_chart(
                pareto_figure(complete, x, y, front, labels=settings),
                width="stretch",
                key="sw.pareto",
            )
            st.caption(
                "Each point is a setting, at its mean over seeds (bars: ± std). Highlighted: the settings "
                "no other setting beats on both metrics at once."
            )
        target = (
            "delta_m mean"
            if "delta_m mean" in table and table["delta_m mean"].notna().any()
            else (metrics[0] if metrics else None)
        )
        if target and settings and len(table) >= 2:
            against = label(target.removesuffix(" mean"))
            st.subheader(f"Settings against {markdown_text(against)}")
            st.plotly_chart(
                parallel_figure(table.dropna(subset=[target]), settings, target, title=""),
                width="stretch",
                key="sw.parallel",
            )
            st.caption(
                f"One line per setting, coloured by its mean {markdown_text(against)}; drag along an axis "
                "to keep only some lines."
            )
    if not presenting:
        with st.expander("Runs of this sweep"):
            st.dataframe(readable(runs), hide_index=True, width="stretch", placeholder="—")
        axes = {
            k: st.session_state[f"sw.{k}"] for k in ("x", "y") if st.session_state.get(f"sw.{k}")
        }
        session.presenter_link("sweep", {"sweep": sweep_id, **axes})
        st.download_button(
            "Sweep report (self-contained HTML)",
            lambda: sweep_report(store, sweep_id, record["name"]),
            file_name=f"sweep-{sweep_id}.html",
            mime="text/html",
            key="sw.report",
        )
    if running and is_done(counts):
        st.rerun()


view()
