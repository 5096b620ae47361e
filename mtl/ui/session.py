"""Streamlit-side glue shared by the pages: the run store, run links, status badges.

The store is the truth: pages read it on every rerun and keep nothing that cannot be
rebuilt from it, so a refresh, a second tab or a restarted server loses nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode

import streamlit as st

from mtl.config import ExperimentConfig
from mtl.runs.ray_options import EXECUTOR_ENV, RayOptions, check_cluster, cluster_configured
from mtl.runs.scheduler import dispatch, launch
from mtl.runs.status import RunStatus
from mtl.runs.store import RunNotFoundError, RunStore, resolve_home
from mtl.viz.labels import markdown_text


@st.cache_resource(show_spinner=False)
def _store(home: str) -> RunStore:
    return RunStore(home)


def store() -> RunStore:
    """The run store under ``$MTL_HOME`` (or ``./mtl-runs``), one per server process."""
    return _store(str(resolve_home()))


def refresh_queue() -> None:
    """Mark dead workers' runs ``interrupted``, start queued runs when slots are free, and
    keep a warm spare worker ready so the next launch shows points sooner."""
    dispatch(store(), warm=True)


def launch_run(config: ExperimentConfig, ray: RayOptions | None = None) -> str:
    """Launch a run from the dashboard (on the warm spare when one is waiting), or, with
    ``ray``, on that Ray cluster.

    Raises:
        UserError: the Ray cluster cannot be reached (nothing is queued).
    """
    if ray is not None:
        check_cluster(ray.address)
    return launch(config, store(), warm=True, ray=ray)


def executor_choice(key: str) -> RayOptions | None:
    """Where the next run trains: a "Train on" choice, shown only when a Ray cluster is
    configured (``RAY_ADDRESS`` or ``MTL_EXECUTOR=ray``, see docs/scale.md). ``None``: this
    machine; else the Ray options (address from ``RAY_ADDRESS``, 1 CPU per run)."""
    if not cluster_configured():
        return None
    options = RayOptions.from_env()
    where = options.address or "a local Ray instance"
    choices = ("this machine", "the Ray cluster")
    chosen = st.radio(
        "Train on",
        choices,
        index=1 if os.environ.get(EXECUTOR_ENV) == "ray" else 0,
        horizontal=True,
        key=key,
        help=markdown_text(f"Ray cluster: {where}; rows and files stream back to this store."),
    )
    return options if chosen == choices[1] else None


STATUS_COLORS: dict[str, str] = {
    RunStatus.QUEUED: "gray",
    RunStatus.RUNNING: "blue",
    RunStatus.FINISHED: "green",
    RunStatus.STOPPED: "orange",
    RunStatus.FAILED: "red",
    RunStatus.DIVERGED: "red",
    RunStatus.INTERRUPTED: "orange",
}


PENDING = (RunStatus.QUEUED, RunStatus.RUNNING)
"""Statuses a page may be waiting on: it refreshes itself when a run leaves them."""
REFRESH_S = 2.0
"""How often a page that waits on runs checks their statuses (seconds)."""


@st.fragment(run_every=REFRESH_S)
def _watch(waiting: frozenset[str]) -> None:
    still = set(store().list_runs(PENDING)["id"])  # the few pending rows, no config
    if not waiting <= still:
        st.rerun(scope="app")


def refresh_while_pending(run_ids: Iterable[str] | None = None) -> None:
    """Rerun the page when one of ``run_ids`` (default: every run) that is queued or
    running now ends.

    Call it with the runs the page waits for (a baseline, the runs a table or a picker
    lists). While one of them is pending, a fragment reads the pending statuses every
    :data:`REFRESH_S` seconds and reruns the page when one has left them; when none is
    pending, nothing polls.
    """
    pending = set(store().list_runs(PENDING)["id"])
    waiting = frozenset(pending if run_ids is None else pending.intersection(run_ids))
    if waiting:
        _watch(waiting)


def status_label(status: str) -> str:
    """A status for tables (plain text: data grids have no icon font)."""
    return status


def status_badge(status: str) -> str:
    """A coloured status badge for markdown headers."""
    return f":{STATUS_COLORS.get(status, 'gray')}-badge[{status}]"


SELECTED = "run.selected"
"""Session key of the run last viewed on any page, so switching pages keeps it."""


NOTICE_ID_CHARS = 80
"""How much of an unknown id from the URL a notice repeats."""


def missing_notice(what: str, wanted: str, instead: str | None = None) -> None:
    """A plain notice that the URL names a ``what`` the store does not have (the id shown
    as text, cut to :data:`NOTICE_ID_CHARS`): "No run 'nope' in this store; showing the
    latest run"."""
    shown = wanted if len(wanted) <= NOTICE_ID_CHARS else wanted[: NOTICE_ID_CHARS - 1] + "…"
    st.warning(
        markdown_text(
            f"No {what} '{shown}' in this store; {instead or f'showing the latest {what}'}"
        )
    )


def query_id(name: str, ids: Sequence[str], what: str) -> str | None:
    """The id in the URL's ``?{name}=…`` when it is one of ``ids``, else ``None``.

    An id that is not one of ``ids`` (mistyped, deleted, hostile) is never used silently: a
    plain notice says so (:func:`missing_notice`) and the page shows its latest instead.
    """
    wanted = st.query_params.get(name)
    if not wanted:
        return None
    if wanted in ids:
        return wanted
    missing_notice(what, wanted)
    return None


def query_ids(name: str, ids: Sequence[str], what: str) -> list[str]:
    """The comma-separated ids in ``?{name}=…`` that are among ``ids`` (in URL order); each
    other one gets a plain notice that it is left out."""
    known = set(ids)
    wanted = [i for i in st.query_params.get(name, "").split(",") if i]
    for unknown in (i for i in wanted if i not in known):
        missing_notice(what, unknown, instead="left out")
    return [i for i in wanted if i in known]


def _url_run(ids: Sequence[str], statuses: tuple[str, ...] | None) -> str | None:
    """The run in the URL (``?run=…``) when it is one of ``ids``; else ``None``, with a notice
    when the URL named one (a run the page does not list, e.g. a running one on Evaluate, is
    told apart from an id the store does not have)."""
    wanted = st.query_params.get("run")
    if not wanted or wanted in ids:
        return wanted or None
    try:
        status = store().get_run(wanted)["status"] if statuses else None
    except RunNotFoundError:
        status = None
    if status is None:
        missing_notice("run", wanted)
    else:
        st.warning(
            markdown_text(f"Run '{wanted}' is {status}, not listed here; showing the latest run")
        )
    return None


def run_from_query(statuses: tuple[str, ...] | None = None) -> str | None:
    """The run a view without a picker (presenter mode) shows: the run in the URL
    (``?run=…``) when the store lists it (among ``statuses``), else the run last viewed in
    this session, else the newest; ``None`` when there is none. An unknown id in the URL
    gets a notice and the newest run is shown."""
    ids = store().list_runs(list(statuses) if statuses else None)["id"].tolist()
    if not ids:
        return None
    asked = "run" in st.query_params
    chosen = _url_run(ids, statuses)
    if chosen is None:
        remembered = st.session_state.get(SELECTED)
        chosen = remembered if remembered in ids and not asked else ids[0]
    st.session_state[SELECTED] = chosen
    return chosen


def pick_run(
    page_key: str, statuses: tuple[str, ...] | None = None, *, watch: bool = True
) -> str | None:
    """A run picker (newest first) that keeps the choice in the URL so a refresh keeps it.

    With ``watch`` the page reruns when a listed run ends (:func:`refresh_while_pending`);
    a page that polls its chosen run itself (Live) passes ``False`` so that nothing else
    polls. The chosen run's label follows its status: a select box keeps showing the label
    it was given for its value until the value is set again, so it is set again whenever
    that label changes.
    """
    runs = store().list_runs(list(statuses) if statuses else None)
    if runs.empty:
        st.info("No runs yet. Start one from **Home** (a preset) or **Experiment**.")
        if watch:
            refresh_while_pending()
        return None
    ids = runs["id"].tolist()
    labels = {r.id: f"{r.name} · {r.id} · {status_label(r.status)}" for r in runs.itertuples()}
    if watch:
        refresh_while_pending()  # a run of the list ending, or joining it when it ends, shows at once
    current = _url_run(ids, statuses)
    if current is None:  # none in the URL: the run last viewed; an unknown one: the latest
        current = ids[0] if st.query_params.get("run") else st.session_state.get(SELECTED)
    picker = f"{page_key}.picker"
    if current in ids and st.session_state.get(f"{picker}.synced") != current:
        st.session_state[picker] = current  # follow the URL / the other pages
    if st.session_state.get(picker) not in ids:
        st.session_state[picker] = ids[0]
    value = st.session_state[picker]
    if st.session_state.get(f"{picker}.label") != labels[value]:
        st.session_state[picker] = value  # set again: the box then shows the new label
    choice = st.selectbox("Run", ids, format_func=labels.__getitem__, key=picker)
    st.session_state[f"{picker}.synced"] = choice
    st.session_state[f"{picker}.label"] = labels[choice]
    if st.query_params.get("run") != choice:
        st.query_params["run"] = choice
    st.session_state[SELECTED] = choice
    return choice


PRESENT = "present"
"""Query parameter of presenter mode: ``?present=1`` hides the setup controls."""


def presenting() -> bool:
    """Whether the page is shown in presenter mode (setup controls hidden)."""
    return st.query_params.get(PRESENT, "") in ("1", "true", "yes")


def query_choice(name: str, allowed: list[str], default: str) -> str:
    """A setting read from the URL (presenter links carry the view's settings)."""
    value = st.query_params.get(name, default)
    return value if value in allowed else default


def query_float(name: str, default: float, low: float, high: float) -> float:
    """A number read from the URL, clipped to [low, high]; the default when unreadable."""
    try:
        return min(high, max(low, float(st.query_params.get(name, default))))
    except ValueError:
        return default


def presenter_link(page: str, params: dict[str, str]) -> None:
    """A button opening this view in presenter mode (a URL to show on a projector)."""
    query = urlencode({**params, PRESENT: "1"})  # values may hold spaces, "/" or "&"
    st.link_button(
        "Presenter view",
        f"/{page}?{query}",
        help="Opens this view without the setup controls; "
        "the link keeps the run and the chart settings.",
    )
