"""Experiment: set up a run in the order of the MTL workflow, validate, launch."""

import json
from typing import Any

import streamlit as st

from mtl import presets
from mtl.config import ConfigError, ExperimentConfig
from mtl.data import DATASETS
from mtl.data.catalog import DataError, get_dataset
from mtl.models import ARCHITECTURES
from mtl.runs.store import resolve_home
from mtl.ui import form, session
from mtl.ui.architecture import describe_config
from mtl.ui.colors import task_colors
from mtl.ui.figures import network_figure
from mtl.ui.labels import markdown_text
from mtl.weighting import WEIGHTINGS
from mtl.weighting import options as strategy_options

KINDS = ["binary", "multiclass", "regression"]
state = st.session_state


def init(key: str, value: Any) -> None:
    """Give a widget its first value (widgets read and write ``state[key]``)."""
    if key not in state:
        state[key] = value


def load_into_form(config: ExperimentConfig) -> None:
    """Replace every form value with the config's."""
    for key in [k for k in state if str(k).startswith(("exp.", "task."))]:
        del state[key]
    state.update(form.to_widgets(config))
    state["exp.problems"] = []


def problems_for(prefix: str) -> None:
    """Show the stored problems whose key starts with ``prefix``, in place."""
    for problem in state.get("exp.problems", []):
        if problem.field and problem.field.startswith(prefix):
            st.error(problem.message, icon="⚠️")


def ints(text: str, key: str) -> list[int] | str:
    """``"64, 32"`` → ``[64, 32]``; the text itself when it is not a list of whole numbers."""
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        return f"{key}: write whole numbers separated by commas, e.g. 64, 32"


def option_inputs(model: Any, prefix: str) -> None:
    """One input per field of a pydantic options model, keyed ``<prefix>.<field>``."""
    for field, info in model.model_fields.items():
        key = f"{prefix}.{field}"
        init(key, info.default)
        label = f"{field}: {info.description}"
        if isinstance(info.default, bool):
            st.checkbox(label, key=key)
        elif isinstance(info.default, float):
            st.number_input(label, key=key, format="%.4g")
        elif isinstance(info.default, int):
            st.number_input(label, key=key, step=1)
        elif isinstance(info.default, str):
            st.text_input(label, key=key)


def on_weighting_change() -> None:
    """Another strategy: its own options, with the paper's defaults."""
    for key in [k for k in state if str(k).startswith("exp.loss.options.")]:
        del state[key]


def on_dataset_change() -> None:
    """A new dataset: its suggested tasks, default options, no stale task widgets."""
    name = state["exp.data.dataset"]
    for key in [k for k in state if str(k).startswith(("exp.data.options.", "task."))]:
        del state[key]
    state["exp.tasks"] = [dict(t, weight=1.0, start_epoch=0) for t in get_dataset(name).suggested_tasks]
    state["exp.data.path"] = None


@st.cache_data(show_spinner=False, max_entries=32)
def inputs_for(data_and_tasks: str, encoder: str, frame: object) -> tuple[tuple[int, ...], dict[str, int]]:
    """Input shape and head widths after preparation (cached per data/tasks settings)."""
    config = ExperimentConfig.from_dict({**json.loads(data_and_tasks), "model": {"encoder": encoder}})
    return form.model_inputs(config, frame)  # type: ignore[arg-type]


if "exp.name" not in state:
    load_into_form(presets.load("penguins"))

st.title("Experiment")
top = st.columns([2, 2, 3])
with top[0]:
    preset = st.selectbox("Start from a preset", ["—", *presets.names()], key="exp.ui.preset")
    if preset != "—" and st.button("Load preset", key="exp.ui.load_preset"):
        load_into_form(presets.load(preset))
        st.rerun()
with top[1]:
    uploaded_yaml = st.file_uploader("…or load a config (YAML)", type=["yaml", "yml", "json"], key="exp.ui.yaml")
    if uploaded_yaml is not None and state.get("exp.ui.yaml_id") != uploaded_yaml.file_id:
        state["exp.ui.yaml_id"] = uploaded_yaml.file_id
        try:
            text = uploaded_yaml.getvalue().decode("utf-8")
            loaded = (ExperimentConfig.from_json if uploaded_yaml.name.endswith(".json") else ExperimentConfig.from_yaml)(text)
        except (ConfigError, UnicodeDecodeError) as err:
            st.error(f"This config cannot be used: {err}")
        else:
            load_into_form(loaded)
            st.rerun()
with top[2]:
    st.text_input("Run name", key="exp.name")

# ---- 1. Data ------------------------------------------------------------------------
st.header("1 · Data")
names = DATASETS.names()
descriptions = {e.name: e.description for e in DATASETS.entries()}
st.selectbox("Dataset", names, key="exp.data.dataset", on_change=on_dataset_change,
             format_func=lambda n: f"{n} — {descriptions[n]}")
dataset_name = state["exp.data.dataset"]
dataset = get_dataset(dataset_name)
if dataset_name == "csv":
    upload = st.file_uploader("Upload a CSV file (header row, one row per example)", type=["csv"], key="exp.ui.csv")
    if upload is not None:
        path = form.save_upload(upload.getvalue(), upload.name, resolve_home())
        if state.get("exp.data.path") != str(path):
            state["exp.data.path"] = str(path)
            state["exp.tasks"] = []
option_inputs(dataset.options, "exp.data.options")
problems_for("data")

frame = None
try:
    options = {k.removeprefix("exp.data.options."): v for k, v in state.items() if str(k).startswith("exp.data.options.")}
    if dataset_name != "csv" or state.get("exp.data.path"):
        frame = form.load_dataset(dataset_name, options, state.get("exp.data.path"))
except (DataError, ConfigError, ValueError) as err:
    st.error(str(err))
if frame is not None:
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
    label_of = {", ".join(t["target"]) if isinstance(t["target"], list) else t["target"]: t for t in tasks}
    candidates = list(dict.fromkeys([*label_of, *map(str, frame.columns)]))
    chosen = st.multiselect("Target columns that become tasks", candidates, default=list(label_of),
                            key=f"exp.ui.targets.{dataset_name}.{state.get('exp.data.path')}")
    tasks = [label_of.get(c) or form.task_from_column(c, frame) for c in chosen]
if not tasks:
    st.warning("Pick at least one target column: each becomes a task.")
colors = task_colors([t["name"] for t in tasks])
for i, task in enumerate(tasks):
    prefix = f"task.{task['name']}"
    init(f"{prefix}.kind", task.get("kind") or "regression")
    init(f"{prefix}.weight", float(task.get("weight", 1.0)))
    init(f"{prefix}.start_epoch", int(task.get("start_epoch", 0)))
    cols = st.columns([2, 2, 3, 2])
    cols[0].markdown(f"<span style='color:{colors[task['name']]};font-size:1.2em'>■</span> **{markdown_text(task['name'])}**",
                     unsafe_allow_html=True)
    cols[1].selectbox("kind", KINDS, key=f"{prefix}.kind", label_visibility="collapsed")
    cols[2].slider("loss weight", 0.0, 5.0, step=0.1, key=f"{prefix}.weight")
    cols[3].number_input("start epoch", min_value=0, step=1, key=f"{prefix}.start_epoch")
    tasks[i] = dict(task, kind=state[f"{prefix}.kind"], weight=state[f"{prefix}.weight"],
                    start_epoch=int(state[f"{prefix}.start_epoch"]))
state["exp.tasks"] = tasks
problems_for("tasks")

# ---- 3. Architecture ----------------------------------------------------------------
draft_error: str | None = None
st.header("3 · Architecture")
arch = {e.name: e for e in ARCHITECTURES.entries()}
left, right = st.columns([2, 3])
with left:
    st.selectbox("Sharing", list(arch), key="exp.model.sharing",
                 format_func=lambda n: f"{n} — {arch[n].description}")
    st.caption(f"Reference: {arch[state['exp.model.sharing']].reference}")
    st.selectbox("Encoder", ["auto", "mlp", "cnn"], key="exp.model.encoder",
                 help="auto = a small CNN for image datasets, an MLP otherwise")
    init("exp.ui.hidden", ", ".join(map(str, state["exp.model.hidden"])))
    state["exp.model.hidden"] = ints(st.text_input("Hidden layer widths", key="exp.ui.hidden"), "model.hidden")
    if dataset.image_shape is not None:
        init("exp.ui.channels", ", ".join(map(str, state["exp.model.channels"])))
        state["exp.model.channels"] = ints(st.text_input("CNN channels", key="exp.ui.channels"), "model.channels")
    init("exp.ui.head_hidden", ", ".join(map(str, state["exp.model.head_hidden"])))
    state["exp.model.head_hidden"] = ints(st.text_input("Task head hidden widths (optional)", key="exp.ui.head_hidden"),
                                          "model.head_hidden")
    sharing = state["exp.model.sharing"]
    if sharing == "hard":
        init("exp.ui.branch_all", state["exp.model.branch_depth"] is None)
        if st.checkbox("Heads on the last shared layer", key="exp.ui.branch_all"):
            state["exp.model.branch_depth"] = None
        else:
            depth = st.number_input("Branch depth (shared layers before the heads)", min_value=0, step=1,
                                    value=int(state["exp.model.branch_depth"] or 0), key="exp.ui.branch_depth")
            state["exp.model.branch_depth"] = int(depth)
    if sharing == "soft":
        st.number_input("Soft-sharing strength λ", min_value=0.0, format="%.4g", key="exp.model.soft_lambda")
    if sharing == "mmoe":
        st.number_input("Experts", min_value=1, max_value=64, step=1, key="exp.model.experts")
    st.selectbox("Activation", ["relu", "gelu", "tanh", "leaky_relu", "elu"], key="exp.model.activation")
    st.slider("Dropout", 0.0, 0.9, step=0.05, key="exp.model.dropout")
    st.checkbox("Batch normalisation", key="exp.model.batch_norm")
problems_for("model")
with right:
    try:
        draft = ExperimentConfig.from_dict(form.to_config(state)) if tasks else None
    except ConfigError as err:
        draft, draft_error = None, str(err)
        st.info(f"The diagram appears once the settings are valid: {err}")
    if draft is not None and frame is not None:
        try:
            shape, heads = inputs_for(draft.model_dump_json(include={"data", "tasks"}), draft.model.encoder,
                                      frame if dataset_name == "csv" else None)
            st.plotly_chart(network_figure(describe_config(draft.model, shape, heads), colors), width="stretch",
                            key="exp.diagram", config={"displayModeBar": False})
            st.caption("Grey blocks are shared by all tasks; coloured blocks belong to one task.")
        except (DataError, ConfigError, ValueError) as err:
            st.error(str(err))

# ---- 4. Loss ------------------------------------------------------------------------
st.header("4 · Loss")
weightings = {e.name: e for e in WEIGHTINGS.entries()}
st.selectbox("Weighting", list(weightings), key="exp.loss.weighting", on_change=on_weighting_change,
             format_func=lambda n: f"{n} — {weightings[n].description}")
chosen_weighting = state["exp.loss.weighting"]
level = strategy_options.level(chosen_weighting)
st.caption(f"Reference: {weightings[chosen_weighting].reference} · "
           + ("combines the task losses (one backward pass)" if level == "loss"
              else "combines per-task gradients on the shared layers (one backward pass per task)"))
if draft_error and ("loss." in draft_error or "weighting" in draft_error):
    st.error(draft_error, icon="⚠️")  # e.g. a gradient method on an architecture that shares nothing
option_inputs(strategy_options.options_model(chosen_weighting), "exp.loss.options")
if chosen_weighting == "manual":
    st.caption("Manual weights are the loss-weight sliders in step 2: "
               + ", ".join(f"{t['name']} × {t['weight']:g}" for t in tasks))
problems_for("loss")

# ---- 5. Training --------------------------------------------------------------------
st.header("5 · Training")
c1, c2, c3, c4 = st.columns(4)
c1.selectbox("Optimizer", ["adam", "adamw", "sgd"], key="exp.train.optimizer")
c1.number_input("Learning rate", min_value=1e-6, max_value=10.0, format="%.4g", key="exp.train.lr")
c2.selectbox("LR schedule", ["constant", "step", "cosine", "plateau"], key="exp.train.schedule")
c2.number_input("Warm-up epochs", min_value=0, step=1, key="exp.train.warmup_epochs")
c3.number_input("Epochs", min_value=1, step=1, key="exp.train.epochs")
c3.number_input("Batch size", min_value=1, step=1, key="exp.train.batch_size")
c4.number_input("L2 (weight decay)", min_value=0.0, format="%.4g", key="exp.train.weight_decay")
c4.number_input("L1", min_value=0.0, format="%.4g", key="exp.train.l1")
c5, c6, c7 = st.columns(3)
init("exp.ui.early", state["exp.train.early_stopping"] is not None)
if c5.checkbox("Early stopping on validation loss", key="exp.ui.early"):
    init("exp.ui.patience", int(state["exp.train.early_stopping"] or 10))
    state["exp.train.early_stopping"] = int(c5.number_input("Patience (epochs)", min_value=1, step=1,
                                                              key="exp.ui.patience"))
else:
    state["exp.train.early_stopping"] = None
c6.number_input("Seed", min_value=0, step=1, key="exp.train.seed")
c7.caption("Dropout is set in step 3.")
init("exp.ui.diagnostics", state.get("exp.train.diagnostics_every") is not None)
if st.checkbox("Record task-conflict diagnostics (gradient norms and cosines between tasks)", key="exp.ui.diagnostics",
               help="Cost: every N steps, one extra backward pass per task on the shared layers "
                    "(T tasks, every N steps: about T/N extra backward passes per step on average)."):
    d1, d2 = st.columns(2)
    init("exp.ui.diagnostics_every", int(state.get("exp.train.diagnostics_every") or 10))
    state["exp.train.diagnostics_every"] = int(d1.number_input("Every N steps", min_value=1, step=1,
                                                                key="exp.ui.diagnostics_every"))
    d2.checkbox("Also the inter-task affinity (Fifty et al. 2021): a look-ahead step per task, "
                "about one more forward pass per task and pair", key="exp.train.affinity")
    cost = strategy_options.diagnostics_cost(max(1, len(tasks)), state["exp.train.diagnostics_every"],
                                             bool(state.get("exp.train.affinity")), state["exp.loss.weighting"])
    st.caption(f"Estimated cost: training about {cost:.0%} slower "
               f"({len(tasks)} tasks, measured every {state['exp.train.diagnostics_every']} steps).")
else:
    state["exp.train.diagnostics_every"] = None
    state["exp.train.affinity"] = False
problems_for("train")

# ---- Start --------------------------------------------------------------------------
st.divider()
config_dict = form.to_config(state)
for problem in state.get("exp.problems", []):
    if problem.field is None:
        st.error(problem.message, icon="⚠️")
start, download = st.columns([1, 1])
with download:
    try:
        yaml_text = ExperimentConfig.from_dict(config_dict).to_yaml()
        st.download_button("Download config (YAML)", yaml_text, file_name=f"{state['exp.name']}.yaml",
                           mime="text/yaml", key="exp.download")
    except ConfigError:
        st.caption("Fix the settings above to download the config.")
with start:
    if st.button("Start", type="primary", key="exp.start"):
        with st.spinner("Checking the settings and the data…"):
            config, problems = form.check(config_dict, frame if dataset_name == "csv" else None)
        state["exp.problems"] = problems
        if config is None:
            st.rerun()
        run_id = session.launch_run(config)
        st.switch_page("app_pages/live.py", query_params={"run": run_id})
