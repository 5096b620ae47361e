"""Experiment: set up a run in the order of the MTL workflow, validate, estimate, launch.

The form's values live in session state under ``exp.*`` / ``task.*`` and are copied to
``form.FORM_KEY`` after every run, so leaving for another page and coming back keeps
them (Streamlit drops the state of widgets a page does not draw). User strings (task,
column, file and run names, error messages that quote them) are shown as text.
"""

import hashlib
import html
import json
from pathlib import Path
from typing import Any, get_args

import streamlit as st

from mtl import presets
from mtl.config import ConfigError, ExperimentConfig, ModelConfig, TaskKind, TrainConfig
from mtl.data import DATASETS
from mtl.data.catalog import DataError, get_dataset
from mtl.errors import UserError
from mtl.models import ARCHITECTURES
from mtl.models.plan import TextBranch, describe_config, encoder_depth
from mtl.models.text_encoders import TEXT_ENCODERS
from mtl.runs.store import resolve_home
from mtl.study.estimate import Estimate, describe, format_duration
from mtl.study.loss_scale import initial_losses, scale_warning
from mtl.ui import form, session
from mtl.ui.estimate import LONG_RUN_S, MANY_STEPS, EstimateError, rough_steps, run_estimate
from mtl.viz.colors import task_colors
from mtl.viz.labels import dataset_label, markdown_text
from mtl.viz.network import network_figure
from mtl.weighting import WEIGHTINGS
from mtl.weighting import options as strategy_options

KINDS = list(get_args(TaskKind))
START_PRESET = "penguins"
state = st.session_state


def init(key: str, value: Any) -> None:
    """Give a widget its first value (widgets read and write ``state[key]``)."""
    if key not in state:
        state[key] = value


def keep() -> None:
    """Widget callback: remember the form now. A change committed by a click on another
    page (a text field loses focus) is processed by that page's run, not this one's."""
    form.remember(state)


def shown(message: object) -> str:
    """An error message for markdown: the upload's server path hidden, markup escaped."""
    return markdown_text(form.without_path(str(message), state.get("exp.data.path")))


def load_into_form(config: ExperimentConfig) -> None:
    """Replace every form value with the config's."""
    fixed = form.hard_without_sharing(config)
    form.forget(state, ("exp.", "task."))
    state.update(form.to_widgets(fixed))
    state["exp.problems"] = []
    state["exp.ui.name_auto"] = True
    state["exp.ui.notice"] = (
        None
        if fixed is config
        else (
            "This config asks for hard sharing with branch depth 0, which shares no layer: it is shown "
            "as 'independent', the same model."
        )
    )
    form.remember(state)


def on_load_preset() -> None:
    if state.get("exp.ui.preset", "—") != "—":
        load_into_form(presets.load(state["exp.ui.preset"]))


def on_reset() -> None:
    """Back to the start: the penguins preset, no upload, no estimate."""
    load_into_form(presets.load(START_PRESET))
    state["exp.ui.preset"] = "—"


def on_yaml() -> None:
    """A config file was uploaded: load it into the form (or say why it cannot be used)."""
    uploaded = state.get("exp.up.yaml")
    if uploaded is None:
        return
    try:
        text = uploaded.getvalue().decode("utf-8")
        read = (
            ExperimentConfig.from_json
            if uploaded.name.endswith(".json")
            else ExperimentConfig.from_yaml
        )
        loaded = read(text)
    except (ConfigError, UnicodeDecodeError) as err:
        state["exp.ui.yaml_error"] = f"This config cannot be used: {err}"
        return
    load_into_form(loaded)
    state["exp.ui.yaml_error"] = None


def on_csv() -> None:
    """A table (CSV or Parquet) was uploaded: keep it for the workers; its name names the run
    (until a name is typed)."""
    uploaded = state.get("exp.up.csv")
    if uploaded is None:
        return
    path = str(form.save_upload(uploaded.getvalue(), uploaded.name, resolve_home()))
    use_data_path(path, uploaded.name)


def on_zip() -> None:
    """A zipped image folder was uploaded: unpack it safely under the home for the workers."""
    uploaded = state.get("exp.up.zip")
    if uploaded is None:
        return
    cap = int(st.get_option("server.maxUploadSize")) * 2**20
    try:
        path = str(form.save_zip_upload(uploaded.getvalue(), uploaded.name, resolve_home(), cap))
    except DataError as err:
        state["exp.ui.zip_error"] = f"This zip cannot be used: {err}"
        return
    state["exp.ui.zip_error"] = None
    use_data_path(path, uploaded.name)


def on_folder() -> None:
    """A folder on this machine was typed: use it as the image folder."""
    folder = str(state.get("exp.ui.folder") or "").strip()
    if folder:
        use_data_path(folder, folder.rstrip("/\\"))


def use_data_path(path: str, shown_name: str) -> None:
    """New data: no tasks or features yet; the run is named after it (until a name is typed)."""
    if state.get("exp.data.path") == path:
        return
    form.forget(state, ("task.", "exp.estimate"))
    state.update(
        {
            "exp.data.path": path,
            "exp.tasks": [],
            "exp.data.features": None,
            "exp.data.text": None,
            "exp.problems": [],
        }
    )
    if state.get("exp.ui.name_auto", True):
        state["exp.name"] = form.default_run_name(shown_name)
    keep()


def on_name() -> None:
    state["exp.ui.name_auto"] = False
    keep()


def on_sharing_change() -> None:
    """Another architecture: its own options, with their defaults."""
    form.forget(state, ("exp.model.options.",))
    keep()


def on_weighting_change() -> None:
    """Another strategy: its own options, with the paper's defaults."""
    form.forget(state, ("exp.loss.options.",))
    keep()


def on_dataset_change() -> None:
    """A new dataset: its suggested tasks, default options, no stale task widgets."""
    name = state["exp.data.dataset"]
    form.forget(state, ("exp.data.options.", "task."))
    state["exp.tasks"] = [
        dict(t, weight=1.0, start_epoch=0) for t in get_dataset(name).suggested_tasks
    ]
    state.update({"exp.data.path": None, "exp.data.features": None, "exp.data.text": None})
    if state.get("exp.ui.name_auto", True):
        state["exp.name"] = name
    keep()


def problems_for(prefix: str) -> None:
    """Show the stored problems whose key starts with ``prefix``, in place."""
    for problem in state.get("exp.problems", []):
        if problem.field and problem.field.startswith(prefix):
            st.error(shown(problem.message), icon="⚠️")


def ints(text: str, key: str) -> list[int] | str:
    """``"64, 32"`` → ``[64, 32]``; the text itself when it is not a list of whole numbers."""
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        return f"{key}: write whole numbers separated by commas, e.g. 64, 32"


def field_input(widget: form.Widget | None, key: str) -> None:
    """Draw ``widget`` (from :func:`form.widget_for`) for session-state key ``key``."""
    if widget is None:  # a list field has no input: a loaded config's value is kept as it is
        return
    init(key, widget.default)
    if widget.kind == "checkbox":
        st.checkbox(widget.label, key=key, on_change=keep)
    elif widget.kind == "select":
        st.selectbox(widget.label, widget.choices, key=key, on_change=keep)
    elif widget.kind in ("float", "int"):
        st.number_input(
            widget.label,
            min_value=widget.min_value,
            max_value=widget.max_value,
            key=key,
            on_change=keep,
            **({"format": "%.4g"} if widget.kind == "float" else {"step": 1}),
        )
    else:
        st.text_input(widget.label, key=key, on_change=keep)


def option_inputs(model: Any, prefix: str) -> None:
    """One input per scalar field of a pydantic options model, keyed ``<prefix>.<field>``."""
    for field, info in model.model_fields.items():
        field_input(form.widget_for(field, info), f"{prefix}.{field}")


def branch_depth_input(image_shape: tuple[int, ...] | None) -> None:
    """``model.branch_depth``: heads on the last shared layer, or after a chosen encoder layer
    (``image_shape``: the dataset's, ``None`` for a table)."""
    try:
        layers = encoder_depth(
            ModelConfig.model_validate(
                {k: state[f"exp.model.{k}"] for k in ("encoder", "hidden", "channels")}
            ),
            image_shape or (1,),
        )
    except (ValueError, TypeError):
        layers = 0  # the widths are invalid: the error shows with the diagram
    init("exp.ui.branch_all", state["exp.model.branch_depth"] is None)
    if (
        st.checkbox("Heads on the last shared layer", key="exp.ui.branch_all", on_change=keep)
        or layers < 1
    ):
        state["exp.model.branch_depth"] = None
    else:
        # Hard sharing shares at least one layer: branch depth 0 would share nothing
        # (that model is 'independent', chosen under Sharing).
        wanted = state.get(
            "exp.ui.branch_depth", state["exp.model.branch_depth"] or max(1, layers - 1)
        )
        state["exp.ui.branch_depth"] = min(max(1, int(wanted)), layers)
        depth = st.number_input(
            "Branch depth (shared encoder layers before the heads branch)",
            min_value=1,
            max_value=layers,
            step=1,
            key="exp.ui.branch_depth",
            on_change=keep,
        )
        state["exp.model.branch_depth"] = int(depth)
        st.caption(
            f"{depth} of {layers} encoder layers shared; each task has its own copy of the other "
            f"{layers - depth}. To share nothing, choose Sharing 'independent'."
        )


@st.cache_data(show_spinner=False, max_entries=32)
def preparation(
    data_and_tasks: str, encoder: str, _frame: object
) -> tuple[tuple[int, ...], dict[str, int], list[TextBranch]] | str:
    """Input shape, head widths and text branches after the worker's own preparation, or
    why it fails (cached per data/tasks settings; ``_frame`` is the uploaded table, named
    in the key)."""
    try:
        config = ExperimentConfig.from_dict(
            {**json.loads(data_and_tasks), "model": {"encoder": encoder}}
        )
        return form.model_inputs(config, _frame)  # type: ignore[arg-type]
    except (DataError, ConfigError, ValueError) as err:
        return str(err)


def text_inputs(
    roles: form.ColumnRoles, frame: Any, targets: tuple[str, ...], features: list[str]
) -> list[str]:
    """The text-column picker and the text encoder's settings; the picked text columns."""
    explicit = state.get("exp.data.text")
    offered = [str(c) for c in frame.columns if str(c) not in targets and str(c) not in features]
    default = roles.text if explicit is None else [c for c in explicit if c in offered]
    key = f"exp.ui.text.{digest(frame.shape, targets, offered, roles.text)}"
    picked = st.multiselect(
        "Text columns the text encoder reads",
        offered,
        # a value already in the session (the form kept across pages) is the widget's own;
        # passing a default too makes Streamlit warn that both set it
        default=None if key in state else [c for c in default if c in offered],
        key=key,
        help="Free-text columns are picked by default; each is split into words "
        "(vocabulary fitted on the training split) and embedded before the shared layers.",
    )
    state["exp.data.text"] = None if sorted(picked) == sorted(roles.text) else picked
    if picked:
        encoders = {e.name: e for e in TEXT_ENCODERS.entries()}
        with st.expander("Text encoder settings"):
            cols = st.columns(2)
            cols[0].selectbox(
                "Text encoder",
                list(encoders),
                key="exp.data.text_encoder",
                on_change=keep,
                format_func=lambda n: f"{n} — {encoders[n].description}",
            )
            cols[0].number_input(
                "Embedding width", 2, 1024, step=8, key="exp.data.text_embedding", on_change=keep
            )
            cols[0].number_input(
                "Words kept per text", 1, 4096, key="exp.data.text_max_length", on_change=keep
            )
            cols[0].checkbox("Lower-case", key="exp.data.text_lowercase", on_change=keep)
            cols[1].number_input(
                "Vocabulary size",
                2,
                1_000_000,
                step=1000,
                key="exp.data.text_vocab_size",
                on_change=keep,
            )
            cols[1].number_input(
                "Minimum word count", 1, 1000, key="exp.data.text_min_freq", on_change=keep
            )
            cols[1].number_input(
                "Word n-grams (hashed)", 1, 3, key="exp.data.text_ngrams", on_change=keep
            )
            cols[1].checkbox(
                "Character trigrams (hashed)", key="exp.data.text_char_ngrams", on_change=keep
            )
            st.caption(f"Reference: {encoders[state['exp.data.text_encoder']].reference}")
    return picked


@st.cache_data(show_spinner=False, max_entries=16)
def roles_of(
    source: str, targets: tuple[str, ...], dataset_name: str, _frame: Any
) -> form.ColumnRoles:
    """Usable and dropped columns (cached per data source and targets)."""
    return form.column_roles(_frame, list(targets), dataset_name)


@st.cache_data(show_spinner=False, max_entries=32)
def loss_scale_note(data_and_tasks: str, huber_delta: float, _frame: object) -> str | None:
    """The warning when the starting task losses differ by more than 10× (cached per data
    and tasks; ``_frame`` is the uploaded table, named in the key), else None."""
    from mtl.data.prepare import prepare  # why: scikit-learn, only once the settings are valid

    try:
        config = ExperimentConfig.from_dict(json.loads(data_and_tasks))
        data = prepare(config, _frame)  # type: ignore[arg-type]
    except (DataError, ConfigError, ValueError):
        return None  # the diagram above already says why the data cannot be prepared
    return scale_warning(initial_losses(data, huber_delta))


def digest(*parts: object) -> str:
    """A short stable key for widget keys and caches."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:12]


form.restore(state)
if "exp.name" not in state:
    load_into_form(presets.load(START_PRESET))
form.remember(state)  # now too: a click on another page may stop this run before its end

st.title("Experiment")
top = st.columns([2, 2, 3])
with top[0]:
    st.selectbox(
        "Start from a preset", ["—", *presets.names()], key="exp.ui.preset", on_change=keep
    )
    buttons = st.columns(2)
    buttons[0].button(
        "Load preset",
        key="exp.btn.load_preset",
        on_click=on_load_preset,
        disabled=state["exp.ui.preset"] == "—",
    )
    buttons[1].button(
        "Reset form",
        key="exp.btn.reset",
        on_click=on_reset,
        help="Forget every setting and upload; start again from the penguins preset",
    )
with top[1]:
    st.file_uploader(
        "…or load a config (YAML)",
        type=["yaml", "yml", "json"],
        key="exp.up.yaml",
        on_change=on_yaml,
    )
    if state.get("exp.ui.yaml_error"):
        st.error(shown(state["exp.ui.yaml_error"]))
with top[2]:
    st.text_input("Run name", key="exp.name", on_change=on_name)
if state.get("exp.ui.notice"):
    st.warning(state["exp.ui.notice"])

# ---- 1. Data ------------------------------------------------------------------------
st.header("1 · Data")
descriptions = {e.name: e.description for e in DATASETS.entries()}
st.selectbox(
    "Dataset",
    DATASETS.names(),
    key="exp.data.dataset",
    on_change=on_dataset_change,
    format_func=lambda n: f"{n} — {descriptions[n]}",
)
dataset_name = state["exp.data.dataset"]
dataset = get_dataset(dataset_name)
data_path = state.get("exp.data.path")
own_data = dataset_name == "csv" or dataset.image_folder  # read from the user's path
if dataset_name == "csv":
    st.file_uploader(
        "Upload a CSV or Parquet file (named columns, one row per example)",
        type=["csv", "parquet", "pq"],
        key="exp.up.csv",
        on_change=on_csv,
    )
    if data_path:
        again = (
            ""
            if state.get("exp.up.csv")
            else " (uploaded earlier in this session; upload another file to replace it)"
        )
        st.caption(
            f"Data file: **{markdown_text(dataset_label({'dataset': 'csv', 'path': data_path}))}**{again}"
        )
if dataset.image_folder:
    up, disk = st.columns(2)
    up.file_uploader(
        "Upload a zipped image folder (PNG/JPEG files + labels.csv)",
        type=["zip"],
        key="exp.up.zip",
        on_change=on_zip,
    )
    disk.text_input(
        "…or the path of an image folder on this machine",
        key="exp.ui.folder",
        on_change=on_folder,
        placeholder="/data/photos (holding labels.csv)",
    )
    if state.get("exp.ui.zip_error"):
        st.error(shown(state["exp.ui.zip_error"]))
    if data_path:
        st.caption(f"Image folder: **{markdown_text(Path(data_path).name)}**")
option_inputs(dataset.options, "exp.data.options")
problems_for("data")

frame = None
try:
    options = {
        k.removeprefix("exp.data.options."): v
        for k, v in state.items()
        if str(k).startswith("exp.data.options.")
    }
    if data_path or not own_data:
        frame = form.load_dataset(dataset_name, options, data_path)
except (DataError, ConfigError, ValueError) as err:
    st.error(shown(err))
if frame is not None:
    for note in frame.attrs.get("warnings", []):  # e.g. image rows skipped, with why
        st.warning(shown(note), icon=":material/info:")
    preview, overview = st.columns([3, 2])
    with preview:
        st.caption(f"{len(frame):,} rows × {frame.shape[1]} columns (first 200 shown)")
        st.dataframe(frame.head(200), height=260, width="stretch")
    with overview:
        st.caption("Columns: type, missing values, and the task kind each would make")
        st.dataframe(form.column_overview(frame), height=260, hide_index=True, width="stretch")

# ---- 2. Tasks -----------------------------------------------------------------------
st.header("2 · Tasks")
tasks: list[dict[str, Any]] = list(state.get("exp.tasks", []))
if frame is not None:
    label_of = {
        ", ".join(t["target"]) if isinstance(t["target"], list) else t["target"]: t for t in tasks
    }
    candidates = list(dict.fromkeys([*label_of, *map(str, frame.columns)]))
    chosen = st.multiselect(
        "Target columns that become tasks",
        candidates,
        default=list(label_of),
        key=f"exp.ui.targets.{digest(dataset_name, data_path)}",
    )
    kept = [label_of[c] for c in chosen if c in label_of]
    tasks = []
    for column in chosen:  # a new target column gets a valid task name unused by the others
        tasks.append(
            label_of.get(column)
            or form.task_from_column(column, frame, [t["name"] for t in kept + tasks])
        )
if not tasks:
    st.warning("Pick at least one target column: each becomes a task.")
colors = task_colors([t["name"] for t in tasks])
for i, task in enumerate(tasks):
    prefix = f"task.{task['name']}"
    init(f"{prefix}.kind", task.get("kind") or "regression")
    init(f"{prefix}.weight", float(task.get("weight", 1.0)))
    init(f"{prefix}.start_epoch", int(task.get("start_epoch", 0)))
    cols = st.columns([0.25, 2, 2, 3, 2])
    # the colour swatch is built from the palette only; the task's name is escaped markdown
    cols[0].markdown(
        f"<span style='color:{html.escape(colors[task['name']])};font-size:1.2em'>■</span>",
        unsafe_allow_html=True,
    )
    cols[1].markdown(f"**{markdown_text(task['name'])}**")
    cols[2].selectbox(
        "kind", KINDS, key=f"{prefix}.kind", on_change=keep, label_visibility="collapsed"
    )
    cols[3].slider("loss weight", 0.0, 5.0, step=0.1, key=f"{prefix}.weight", on_change=keep)
    cols[4].number_input(
        "start epoch", min_value=0, step=1, key=f"{prefix}.start_epoch", on_change=keep
    )
    tasks[i] = dict(
        task,
        kind=state[f"{prefix}.kind"],
        weight=state[f"{prefix}.weight"],
        start_epoch=int(state[f"{prefix}.start_epoch"]),
    )
state["exp.tasks"] = tasks
problems_for("tasks")

targets = tuple(
    c for t in tasks for c in ([t["target"]] if isinstance(t["target"], str) else t["target"])
)
texts: list[str] = []
if frame is not None and not dataset.images:
    st.subheader("Features")
    roles = roles_of(digest(dataset_name, data_path, options), targets, dataset_name, frame)
    explicit = state.get("exp.data.features")
    offered = list(
        dict.fromkeys(
            roles.usable + [c for c in explicit or [] if c in frame.columns and c not in targets]
        )
    )
    picked = st.multiselect(
        "Feature columns the model reads",
        offered,
        default=offered if explicit is None else [c for c in explicit if c in offered],
        key=f"exp.ui.features.{digest(dataset_name, data_path, targets, offered)}",
        help="Every usable column by default; free text goes to the text encoder below; "
        "columns that are IDs, constant or empty are left out (see the table).",
    )
    state["exp.data.features"] = roles.features_setting(picked)
    texts = text_inputs(roles, frame, targets, picked)
    if not picked and not texts:
        st.error(
            "No feature column is picked: the model would have nothing to learn from. "
            "Pick at least one (the table below says why the others are left out).",
            icon="⚠️",
        )
    dropped = roles.dropped[roles.dropped["reason"] != "target"]
    if not dropped.empty:
        left_out = ", ".join(
            f"{c} ({r})" for c, r in zip(dropped["column"], dropped["reason"], strict=True)
        )
        st.warning(f"Left out as features: {markdown_text(left_out)}.", icon=":material/info:")
    st.caption("Columns that are not features, and why")
    st.dataframe(
        roles.dropped,
        hide_index=True,
        width="stretch",
        height=min(300, 38 + 35 * len(roles.dropped)),
    )

# ---- 3. Architecture ----------------------------------------------------------------
draft_error: str | None = None
st.header("3 · Architecture")
arch = {e.name: e for e in ARCHITECTURES.entries()}
left, right = st.columns([2, 3])
with left:
    st.selectbox(
        "Sharing",
        list(arch),
        key="exp.model.sharing",
        on_change=on_sharing_change,
        format_func=lambda n: f"{n} — {arch[n].description}",
    )
    st.caption(f"Reference: {arch[state['exp.model.sharing']].reference}")
    st.selectbox(
        "Encoder",
        form.choices(ModelConfig, "encoder"),
        key="exp.model.encoder",
        on_change=keep,
        help="auto = a small CNN for image datasets, an MLP otherwise",
    )
    init("exp.ui.hidden", ", ".join(map(str, state["exp.model.hidden"])))
    state["exp.model.hidden"] = ints(
        st.text_input("Hidden layer widths", key="exp.ui.hidden", on_change=keep), "model.hidden"
    )
    if dataset.images:
        init("exp.ui.channels", ", ".join(map(str, state["exp.model.channels"])))
        state["exp.model.channels"] = ints(
            st.text_input("CNN channels", key="exp.ui.channels", on_change=keep), "model.channels"
        )
    init("exp.ui.head_hidden", ", ".join(map(str, state["exp.model.head_hidden"])))
    state["exp.model.head_hidden"] = ints(
        st.text_input(
            "Task head hidden widths (optional)", key="exp.ui.head_hidden", on_change=keep
        ),
        "model.head_hidden",
    )
    sharing_spec = ARCHITECTURES.spec(state["exp.model.sharing"])
    for setting in sharing_spec.settings:  # the general model settings this architecture reads
        if setting == "branch_depth":
            branch_depth_input(dataset.image_shape or ((1, 8, 8) if dataset.images else None))
        else:
            info = ModelConfig.model_fields[setting]
            field_input(form.widget_for(setting, info, info.title), f"exp.model.{setting}")
    option_inputs(sharing_spec.options, "exp.model.options")
    st.selectbox(
        "Activation",
        form.choices(ModelConfig, "activation"),
        key="exp.model.activation",
        on_change=keep,
    )
    st.slider("Dropout", 0.0, 0.9, step=0.05, key="exp.model.dropout", on_change=keep)
    st.checkbox("Batch normalisation", key="exp.model.batch_norm", on_change=keep)
problems_for("model")
prepared: tuple[tuple[int, ...], dict[str, int], list[TextBranch]] | str | None = None
with right:
    try:
        draft = ExperimentConfig.from_dict(form.to_config(state)) if tasks else None
    except ConfigError as err:
        draft, draft_error = None, str(err)
        st.info(f"The diagram appears once the settings are valid: {shown(err)}")
    if draft is not None and frame is not None:
        prepared = preparation(
            draft.model_dump_json(include={"data", "tasks"}),
            draft.model.encoder,
            frame if own_data else None,
        )
        try:
            if isinstance(prepared, str):
                raise DataError(prepared)
            st.plotly_chart(
                network_figure(describe_config(draft.model, *prepared), colors, width_px=460),
                width="stretch",
                key="exp.diagram",
                config={"displayModeBar": False},
            )
            st.caption("Grey blocks are shared by all tasks; coloured blocks belong to one task.")
        except (DataError, ConfigError, ValueError) as err:
            st.error(f"The data cannot be prepared for these settings: {shown(err)}", icon="⚠️")

# ---- 4. Loss ------------------------------------------------------------------------
st.header("4 · Loss")
weightings = {e.name: e for e in WEIGHTINGS.entries()}
st.selectbox(
    "Weighting",
    list(weightings),
    key="exp.loss.weighting",
    on_change=on_weighting_change,
    format_func=lambda n: f"{n} — {weightings[n].description}",
)
chosen_weighting = state["exp.loss.weighting"]
if draft is not None and frame is not None and not isinstance(prepared, str):
    scale_note = loss_scale_note(
        draft.model_dump_json(include={"data", "tasks"}),
        draft.loss.huber_delta,
        frame if own_data else None,
    )
    if scale_note:
        st.warning(shown(scale_note), icon=":material/balance:")
level = strategy_options.level(chosen_weighting)
st.caption(
    f"Reference: {weightings[chosen_weighting].reference} · "
    + (
        "combines the task losses (one backward pass)"
        if level == "loss"
        else "combines per-task gradients on the shared layers (one backward pass per task)"
    )
)
if draft_error and ("loss." in draft_error or "weighting" in draft_error):
    st.error(
        shown(draft_error), icon="⚠️"
    )  # e.g. a gradient method on an architecture that shares nothing
option_inputs(strategy_options.options_model(chosen_weighting), "exp.loss.options")
if chosen_weighting == "manual":
    st.caption(
        "Manual weights are the loss-weight sliders in step 2: "
        + markdown_text(", ".join(f"{t['name']} × {t['weight']:g}" for t in tasks))
    )
problems_for("loss")

# ---- 5. Training --------------------------------------------------------------------
st.header("5 · Training")
c1, c2, c3, c4 = st.columns(4)
c1.selectbox(
    "Optimizer", form.choices(TrainConfig, "optimizer"), key="exp.train.optimizer", on_change=keep
)
c1.number_input(
    "Learning rate",
    min_value=1e-6,
    max_value=10.0,
    format="%.4g",
    key="exp.train.lr",
    on_change=keep,
)
c2.selectbox(
    "LR schedule",
    form.choices(TrainConfig, "schedule"),
    key="exp.train.schedule",
    on_change=keep,
)
c2.number_input(
    "Warm-up epochs", min_value=0, step=1, key="exp.train.warmup_epochs", on_change=keep
)
c3.number_input("Epochs", min_value=1, step=1, key="exp.train.epochs", on_change=keep)
c3.number_input("Batch size", min_value=1, step=1, key="exp.train.batch_size", on_change=keep)
c4.number_input(
    "L2 (weight decay)", min_value=0.0, format="%.4g", key="exp.train.weight_decay", on_change=keep
)
c4.number_input("L1", min_value=0.0, format="%.4g", key="exp.train.l1", on_change=keep)
c5, c6, c7 = st.columns(3)
init("exp.ui.early", state["exp.train.early_stopping"] is not None)
if c5.checkbox("Early stopping on validation loss", key="exp.ui.early", on_change=keep):
    init("exp.ui.patience", int(state["exp.train.early_stopping"] or 10))
    state["exp.train.early_stopping"] = int(
        c5.number_input(
            "Patience (epochs)", min_value=1, step=1, key="exp.ui.patience", on_change=keep
        )
    )
else:
    state["exp.train.early_stopping"] = None
c6.number_input("Seed", min_value=0, step=1, key="exp.train.seed", on_change=keep)
c7.caption("Dropout is set in step 3.")
init("exp.ui.diagnostics", state.get("exp.train.diagnostics_every") is not None)
if st.checkbox(
    "Record task-conflict diagnostics (gradient norms and cosines between tasks)",
    key="exp.ui.diagnostics",
    on_change=keep,
    help="Cost: every N steps, one extra backward pass per task on the shared layers "
    "(T tasks, every N steps: about T/N extra backward passes per step on average).",
):
    d1, d2 = st.columns(2)
    init("exp.ui.diagnostics_every", int(state.get("exp.train.diagnostics_every") or 10))
    state["exp.train.diagnostics_every"] = int(
        d1.number_input(
            "Every N steps", min_value=1, step=1, key="exp.ui.diagnostics_every", on_change=keep
        )
    )
    d2.checkbox(
        "Also the inter-task affinity (Fifty et al. 2021): a look-ahead step per task, "
        "about one more forward pass per task and pair",
        key="exp.train.affinity",
        on_change=keep,
    )
    cost = strategy_options.diagnostics_cost(
        max(1, len(tasks)),
        state["exp.train.diagnostics_every"],
        bool(state.get("exp.train.affinity")),
        state["exp.loss.weighting"],
    )
    st.caption(
        f"Estimated cost: training about {cost:.0%} slower "
        f"({len(tasks)} tasks, measured every {state['exp.train.diagnostics_every']} steps)."
    )
else:
    state["exp.train.diagnostics_every"] = None
    state["exp.train.affinity"] = False
problems_for("train")

# ---- Duration and start -------------------------------------------------------------
st.divider()
config_dict = form.to_config(state)
try:
    final: ExperimentConfig | None = ExperimentConfig.from_dict(config_dict)
except ConfigError:
    final = None
estimate_key = digest(config_dict)
if final is not None and frame is not None and rough_steps(final, len(frame)) > MANY_STEPS:
    st.warning(
        f"This run trains about {rough_steps(final, len(frame)):,} steps ({final.train.epochs} epochs on "
        f"{len(frame):,} rows, batch size {final.train.batch_size}): it may take long. "
        "Estimate the duration before you start.",
        icon=":material/timer:",
    )
timing, timing_result = st.columns([1, 3])
if timing.button(
    "Estimate duration",
    key="exp.btn.estimate",
    disabled=final is None or isinstance(prepared, str),
    help="Times real training steps (at least 20, and at least 1 s of them) on the real data "
    "in a separate process, then extrapolates to every epoch",
):
    with st.spinner("Timing a few training steps…"):
        try:
            state["exp.estimate"] = {"key": estimate_key, "result": run_estimate(final)}  # type: ignore[arg-type]
        except EstimateError as err:
            state["exp.estimate"] = {"key": estimate_key, "error": str(err)}
measured = state.get("exp.estimate") or {}
if measured.get("key") == estimate_key:
    if "error" in measured:
        timing_result.error(f"No estimate: {shown(measured['error'])}")
    else:
        result = Estimate(**measured["result"])
        timing_result.info(f"Estimated duration: {describe(result)}.", icon=":material/timer:")
        if result.seconds > LONG_RUN_S:
            timing_result.warning(
                f"This run would take {format_duration(result.seconds)}. Fewer epochs, a larger "
                "batch, early stopping or fewer rows (data option max_rows) make it shorter."
            )
elif measured:
    timing_result.caption("The settings changed since the last estimate.")

if final is not None:
    st.caption(
        f"Ready to start **{markdown_text(final.name)}**: {len(final.tasks)} task{'s' if len(final.tasks) != 1 else ''} "
        f"on {markdown_text(dataset_label(final.data.model_dump()))}, {markdown_text(final.model.sharing)} sharing, "
        f"{markdown_text(final.loss.weighting)} weighting, {final.train.epochs} epochs."
    )
for problem in state.get("exp.problems", []):
    if problem.field is None:
        st.error(shown(problem.message), icon="⚠️")
on_ray = session.executor_choice("exp.executor")  # shown only when a cluster is configured
start, download = st.columns([1, 1])
with download:
    if final is not None:
        st.download_button(
            "Download config (YAML)",
            final.to_yaml(),
            file_name=f"{form.safe_stem(state['exp.name'])}.yaml",
            mime="text/yaml",
            key="exp.download",
        )
    else:
        st.caption("Fix the settings above to download the config.")
form.remember(state)
with start:
    if st.button("Start", type="primary", key="exp.start"):
        with st.spinner("Checking the settings and the data…"):
            config, problems = form.check(config_dict, frame if own_data else None)
        state["exp.problems"] = problems
        form.remember(state)
        if config is None:
            st.rerun()
        try:
            run_id = session.launch_run(config, ray=on_ray)
        except UserError as err:  # an unreachable Ray cluster: nothing was queued
            st.error(markdown_text(err), icon="⚠️")
        else:
            st.switch_page("app_pages/live.py", query_params={"run": run_id})
